//! Finding scripts on disk and grouping them by directory.
//!
//! Scripts of one directory share CompIDs, so they run one after another; different directories use
//! different CompIDs and may run in parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

/// Scripts of one directory, in the order they run (sorted by file name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptGroup {
    /// The directory (as given, or the parent of a given file).
    pub dir: PathBuf,
    /// The scripts, sorted by file name.
    pub scripts: Vec<PathBuf>,
}

/// Upper bound on scripts taken from one directory: a directory with more is refused rather than
/// run for hours.
pub const MAX_SCRIPTS_PER_DIR: usize = 10_000;

/// Group the given paths: a directory contributes its `*.def` files (not recursively); a file is
/// taken whatever its name and joins the group of its directory. Duplicates are removed.
pub fn discover(paths: &[PathBuf]) -> io::Result<Vec<ScriptGroup>> {
    let mut groups: BTreeMap<PathBuf, (PathBuf, BTreeSet<PathBuf>)> = BTreeMap::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let (dir, files) = if meta.is_dir() {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(path)? {
                let p = entry?.path();
                if p.extension().is_some_and(|x| x == "def") && p.is_file() {
                    files.push(p);
                }
                if files.len() > MAX_SCRIPTS_PER_DIR {
                    return Err(io::Error::other(format!(
                        "{}: more than {MAX_SCRIPTS_PER_DIR} scripts",
                        path.display()
                    )));
                }
            }
            (path.clone(), files)
        } else {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            (parent, vec![path.clone()])
        };
        // Group on the canonical directory so `a/` and `./a` are one group (one set of CompIDs).
        let key = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        let entry = groups.entry(key).or_insert_with(|| (dir, BTreeSet::new()));
        for f in files {
            let canonical = std::fs::canonicalize(&f).unwrap_or(f);
            entry.1.insert(canonical);
        }
    }
    Ok(groups
        .into_values()
        .map(|(dir, set)| {
            let mut scripts: Vec<PathBuf> = set.into_iter().collect();
            scripts.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
            ScriptGroup { dir, scripts }
        })
        .collect())
}

/// Display name of a script: `<directory name>/<file name>` (`fix42/14a_BadField.def`).
pub fn script_name(path: &Path) -> String {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    match path
        .parent()
        .and_then(Path::file_name)
        .map(|d| d.to_string_lossy())
    {
        Some(dir) => format!("{dir}/{file}"),
        None => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_directory_sorted_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let a = root.join("a");
        let b = root.join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        for (dir, name) in [
            (&a, "2_x.def"),
            (&a, "10_y.def"),
            (&a, "1_z.def"),
            (&a, "notes.txt"),
            (&b, "q.def"),
        ] {
            std::fs::write(dir.join(name), b"iCONNECT\n").unwrap();
        }
        let groups = discover(&[a.clone(), b.join("q.def"), root.join("a/./1_z.def")]).unwrap();
        assert_eq!(groups.len(), 2);
        let names: Vec<Vec<String>> = groups
            .iter()
            .map(|g| g.scripts.iter().map(|p| script_name(p)).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["a/10_y.def", "a/1_z.def", "a/2_x.def"],
                vec!["b/q.def"]
            ]
        );
    }

    #[test]
    fn missing_path_is_an_error_naming_it() {
        let e = discover(&[PathBuf::from("/nonexistent/fix-acceptance")]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/fix-acceptance"), "{e}");
    }
}
