//! Canonical re-serialisation of a message body: ascending tag order, repeating-group members in
//! dictionary order after their count field. QuickFIX writes messages this way, and the acceptance
//! scripts expect echoed messages byte for byte in this order.

use super::validate::{Fld, Scanner};
use super::{Dictionary, GroupDef, Layout, ValidationError, Validator};
use crate::Encoder;
use crate::field::FieldIter;

/// Bound on the top-level body fields reordered in one message (stack space: 16 bytes each).
const MAX_BODY_ITEMS: usize = 512;
/// Bound on the fields of one group entry.
const MAX_ENTRY_ITEMS: usize = 256;

/// One unit to place: a field, or a group count field together with all of its entries.
#[derive(Clone, Copy, Default)]
struct Item {
    key: u32,
    start: u32,
    /// End of the field itself.
    end: u32,
    /// End of the group's entries (== `end` when not a group).
    span_end: u32,
}

/// Consume the entries of `g` after its count field, applying the same entry rules as validation.
fn skip_group<'m>(
    d: &Dictionary,
    g: &GroupDef,
    sc: &mut Scanner<'m>,
) -> Result<(), ValidationError> {
    let mut entries = 0u32;
    let mut seen = [0u64; 8];
    loop {
        let mut peek = sc.clone();
        let Some(next) = peek.next_field() else { break };
        let f = next.map_err(|()| ValidationError::GARBLED)?;
        let Some(li) = (if f.bad { None } else { g.local(f.tag) }) else {
            break;
        };
        let was = seen
            .get(li >> 6)
            .is_some_and(|w| w & (1u64 << (li & 63)) != 0);
        if f.tag == g.delim || entries == 0 || was {
            entries += 1;
            seen = [0; 8];
        }
        if let Some(w) = seen.get_mut(li >> 6) {
            *w |= 1u64 << (li & 63);
        }
        *sc = peek;
        let nested = g.nested[li];
        if nested != u32::MAX {
            skip_group(d, &d.groups[nested as usize], sc)?;
        }
    }
    Ok(())
}

/// Stable insertion sort by key: the slices are small and `sort_by_key` may allocate.
fn sort_items(items: &mut [Item]) {
    for i in 1..items.len() {
        let x = items[i];
        let mut j = i;
        while j > 0 && items[j - 1].key > x.key {
            items[j] = items[j - 1];
            j -= 1;
        }
        items[j] = x;
    }
}

fn pos(p: usize) -> Result<u32, ValidationError> {
    u32::try_from(p).map_err(|_| ValidationError::GARBLED)
}

/// Write the entries of `g` found in `msg[from..to]`, each entry's fields in dictionary order.
fn emit_entries(
    d: &Dictionary,
    g: &GroupDef,
    msg: &[u8],
    from: usize,
    to: usize,
    enc: &mut Encoder<'_>,
) -> Result<(), ValidationError> {
    let mut items = [Item::default(); MAX_ENTRY_ITEMS];
    let mut n = 0usize;
    let mut seen = [0u64; 8];
    // The region starts at an entry's first field, never between a length field and its data.
    let mut sc = Scanner::at(&msg[..to], from);
    let mut started = false;
    while let Some(next) = sc.next_field() {
        let f = next.map_err(|()| ValidationError::GARBLED)?;
        let li = if f.bad { None } else { g.local(f.tag) };
        let Some(li) = li else {
            return Err(ValidationError::GARBLED);
        };
        let was = seen
            .get(li >> 6)
            .is_some_and(|w| w & (1u64 << (li & 63)) != 0);
        if f.tag == g.delim || !started || was {
            if started {
                flush(msg, d, g, &mut items[..n], enc)?;
            }
            started = true;
            n = 0;
            seen = [0; 8];
        }
        if let Some(w) = seen.get_mut(li >> 6) {
            *w |= 1u64 << (li & 63);
        }
        let end = f.end;
        let nested = g.nested[li];
        if nested != u32::MAX {
            skip_group(d, &d.groups[nested as usize], &mut sc)?;
        }
        let span_end = sc_pos(&sc, f.end, to);
        if n == items.len() {
            return Err(ValidationError::GARBLED);
        }
        items[n] = Item {
            key: u32::from(g.order[li]),
            start: pos(f.start)?,
            end: pos(end)?,
            span_end: pos(span_end)?,
        };
        n += 1;
    }
    if started {
        flush(msg, d, g, &mut items[..n], enc)?;
    }
    Ok(())
}

/// Position of the scanner: the start of its next field, or `to` at the end.
fn sc_pos(sc: &Scanner<'_>, at_least: usize, to: usize) -> usize {
    let mut peek = sc.clone();
    match peek.next_field() {
        Some(Ok(f)) => f.start.max(at_least),
        _ => to,
    }
}

/// Write one entry's fields, sorted into dictionary order; nested groups recurse.
fn flush(
    msg: &[u8],
    d: &Dictionary,
    g: &GroupDef,
    items: &mut [Item],
    enc: &mut Encoder<'_>,
) -> Result<(), ValidationError> {
    sort_items(items);
    for it in items.iter() {
        let (start, end, span_end) = (it.start as usize, it.end as usize, it.span_end as usize);
        enc.raw(&msg[start..end]);
        if span_end > end {
            let tag = FieldIter::new(&msg[start..end])
                .next()
                .and_then(Result::ok)
                .map(|f| f.tag);
            let nested = tag
                .and_then(|t| g.local(t))
                .map(|li| g.nested[li])
                .filter(|&n| n != u32::MAX);
            match nested {
                Some(n) => emit_entries(d, &d.groups[n as usize], msg, end, span_end, enc)?,
                None => {
                    enc.raw(&msg[end..span_end]);
                }
            };
        }
    }
    Ok(())
}

impl Validator {
    /// Write the body of `msg` (every field that is neither header nor trailer) into `enc`, in
    /// canonical order: ascending tag, except that repeating-group members follow their NumInGroup
    /// field in dictionary order (nested groups too). Values are copied byte for byte. Used by echo
    /// applications; does not validate (call [`Validator::validate`] first).
    ///
    /// Does not allocate beyond what `enc` needs. Fails with [`ValidationError::GARBLED`] when the
    /// fields cannot be read, or when the body has more than 512 top-level fields or a group entry
    /// more than 256 (the bounds of the stack space used for sorting).
    pub fn write_body_canonical(
        &self,
        msg: &[u8],
        enc: &mut Encoder<'_>,
    ) -> Result<(), ValidationError> {
        let td = self.transport();
        let msg_type = FieldIter::new(msg)
            .map_while(Result::ok)
            .find(|f| f.tag == 35)
            .map(|f| f.value);
        let bd = msg_type.map_or(self.app(), |mt| self.body_dictionary(mt));
        let body: Option<&Layout> = msg_type.and_then(|mt| bd.msg(mt)).map(|m| &m.body);

        let mut items = [Item::default(); MAX_BODY_ITEMS];
        let mut n = 0usize;
        let mut sc = Scanner::new(msg);
        while let Some(next) = sc.next_field() {
            let f: Fld<'_> = next.map_err(|()| ValidationError::GARBLED)?;
            let hidx = if f.bad { None } else { td.index(f.tag) };
            if let Some(i) = hidx.filter(|&i| td.header.is_member(i) || td.trailer.is_member(i)) {
                let layout = if td.header.is_member(i) {
                    &td.header
                } else {
                    &td.trailer
                };
                if let Some(gid) = layout.group(i, f.tag) {
                    skip_group(td, &td.groups[gid as usize], &mut sc)?;
                }
                continue;
            }
            let idx = if f.bad { None } else { bd.index(f.tag) };
            let mut span_end = f.end;
            if let (Some(layout), Some(i)) = (body, idx)
                && let Some(gid) = layout.group(i, f.tag)
            {
                skip_group(bd, &bd.groups[gid as usize], &mut sc)?;
                span_end = sc_pos(&sc, f.end, msg.len());
            }
            if n == items.len() {
                return Err(ValidationError::GARBLED);
            }
            items[n] = Item {
                key: if f.bad { 0 } else { f.tag },
                start: pos(f.start)?,
                end: pos(f.end)?,
                span_end: pos(span_end)?,
            };
            n += 1;
        }
        let items = &mut items[..n];
        sort_items(items);
        for it in items.iter() {
            let (start, end, span_end) = (it.start as usize, it.end as usize, it.span_end as usize);
            enc.raw(&msg[start..end]);
            if span_end > end {
                let g = body
                    .zip(bd.index(it.key))
                    .and_then(|(l, i)| l.group(i, it.key))
                    .map(|gid| &bd.groups[gid as usize]);
                match g {
                    Some(g) => emit_entries(bd, g, msg, end, span_end, enc)?,
                    None => {
                        enc.raw(&msg[end..span_end]);
                    }
                };
            }
        }
        Ok(())
    }
}
