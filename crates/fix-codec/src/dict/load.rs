//! Loading QuickFIX XML into the precomputed tables of [`Dictionary`]. Not the hot path.

use std::collections::HashMap;

use roxmltree::{Document, Node, NodeId};

use super::{
    DictError, Dictionary, EnumSet, FieldDef, FieldType, GroupDef, Layout, MsgDef, pack_msg_type,
};

/// Components nest a handful of levels in the published dictionaries; a deeper chain means a cycle.
const MAX_NESTING: usize = 32;

fn invalid(msg: impl Into<String>) -> DictError {
    DictError::Invalid(msg.into())
}

fn is_yes(node: Node<'_, '_>) -> bool {
    matches!(node.attribute("required"), Some("Y" | "y"))
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn field_type(xml: &str, pre_42: bool) -> FieldType {
    match xml {
        "CHAR" if pre_42 => FieldType::String,
        "STRING" => FieldType::String,
        "CHAR" => FieldType::Char,
        "INT" => FieldType::Int,
        "LENGTH" => FieldType::Length,
        "SEQNUM" => FieldType::SeqNum,
        "NUMINGROUP" => FieldType::NumInGroup,
        "FLOAT" | "QTY" | "PRICE" | "PRICEOFFSET" | "AMT" | "PERCENTAGE" => FieldType::Float,
        "BOOLEAN" => FieldType::Boolean,
        "UTCTIMESTAMP" | "TIME" => FieldType::UtcTimestamp,
        "UTCTIMEONLY" => FieldType::UtcTimeOnly,
        "UTCDATE" | "UTCDATEONLY" | "LOCALMKTDATE" => FieldType::Date,
        "MONTHYEAR" => FieldType::MonthYear,
        "DAYOFMONTH" => FieldType::DayOfMonth,
        "DATA" => FieldType::Data,
        "CURRENCY" | "EXCHANGE" | "COUNTRY" => FieldType::Code,
        "MULTIPLEVALUESTRING" | "MULTIPLESTRINGVALUE" | "MULTIPLECHARVALUE" => {
            FieldType::MultipleValue
        }
        _ => FieldType::Unknown,
    }
}

/// Accumulates the members of one level (message body, header, trailer or group entry).
#[derive(Default)]
struct Builder {
    /// Member tags in dictionary order, without duplicates.
    members: Vec<u32>,
    groups: Vec<(u32, u32)>,
    required: Vec<u32>,
}

impl Builder {
    fn add(&mut self, tag: u32, required: bool) {
        if !self.members.contains(&tag) {
            self.members.push(tag);
        }
        if required && !self.required.contains(&tag) {
            self.required.push(tag);
        }
    }
}

struct Loader<'a, 'i> {
    names: HashMap<Box<str>, u32>,
    components: HashMap<&'a str, Node<'a, 'i>>,
    groups: Vec<GroupDef>,
    group_ids: HashMap<NodeId, u32>,
    tag_index: Vec<u16>,
    words: usize,
}

impl<'a, 'i> Loader<'a, 'i> {
    fn tag_of(&self, node: Node<'a, 'i>) -> Result<u32, DictError> {
        let name = node
            .attribute("name")
            .ok_or_else(|| invalid(format!("<{}> without a name", node.tag_name().name())))?;
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| invalid(format!("field {name} not defined in <fields>")))
    }

    /// Add the children of `node` (a message, header, trailer, component or group) to `b`.
    ///
    /// `req`: whether `required='Y'` children count as required at this level. Following QuickFIX,
    /// a component's fields are required when the component element itself is required (inside a
    /// group, components contribute no required fields), and a group's fields when the group is.
    fn add_children(
        &mut self,
        node: Node<'a, 'i>,
        b: &mut Builder,
        req: bool,
        in_group: bool,
        depth: usize,
    ) -> Result<(), DictError> {
        if depth > MAX_NESTING {
            return Err(invalid("components or groups nested too deeply (a cycle?)"));
        }
        for el in node.children().filter(Node::is_element) {
            match el.tag_name().name() {
                "field" => {
                    let tag = self.tag_of(el)?;
                    b.add(tag, req && is_yes(el));
                }
                "group" => {
                    let tag = self.tag_of(el)?;
                    b.add(tag, req && is_yes(el));
                    if let Some(gid) = self.group(el, depth + 1)?
                        && !b.groups.iter().any(|g| g.0 == tag)
                    {
                        b.groups.push((tag, gid));
                    }
                }
                "component" => {
                    let name = el
                        .attribute("name")
                        .ok_or_else(|| invalid("<component> without a name"))?;
                    let comp = *self
                        .components
                        .get(name)
                        .ok_or_else(|| invalid(format!("component {name} not defined")))?;
                    let comp_req = !in_group && is_yes(el);
                    self.add_children(comp, b, comp_req, in_group, depth + 1)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn group(&mut self, el: Node<'a, 'i>, depth: usize) -> Result<Option<u32>, DictError> {
        if let Some(&id) = self.group_ids.get(&el.id()) {
            return Ok(Some(id));
        }
        let mut b = Builder::default();
        self.add_children(el, &mut b, is_yes(el), true, depth)?;
        let Some(&delim) = b.members.first() else {
            // QuickFIX ignores a group without fields.
            return Ok(None);
        };
        if b.members.len() > usize::from(u16::MAX) {
            return Err(invalid("group with too many members"));
        }
        let mut sorted: Vec<(u32, u16)> = b
            .members
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, i as u16))
            .collect();
        sorted.sort_unstable();
        let nested = sorted
            .iter()
            .map(|(t, _)| {
                b.groups
                    .iter()
                    .find(|g| g.0 == *t)
                    .map_or(u32::MAX, |g| g.1)
            })
            .collect();
        b.required.sort_unstable();
        let def = GroupDef {
            delim,
            members: sorted.iter().map(|s| s.0).collect(),
            order: sorted.iter().map(|s| s.1).collect(),
            nested,
            required: b.required.into_boxed_slice(),
        };
        let id = u32::try_from(self.groups.len()).map_err(|_| invalid("too many groups"))?;
        self.groups.push(def);
        self.group_ids.insert(el.id(), id);
        Ok(Some(id))
    }

    fn layout(&self, b: Builder) -> Layout {
        let mut members = vec![0u64; self.words];
        let mut counts = vec![0u64; self.words];
        let index = |t: u32| -> Option<usize> {
            match self.tag_index.get(t as usize) {
                Some(&i) if i != 0 => Some(usize::from(i) - 1),
                _ => None,
            }
        };
        for &t in &b.members {
            if let Some(i) = index(t) {
                members[i >> 6] |= 1u64 << (i & 63);
            }
        }
        for &(t, _) in &b.groups {
            if let Some(i) = index(t) {
                counts[i >> 6] |= 1u64 << (i & 63);
            }
        }
        let mut groups = b.groups;
        groups.sort_unstable();
        let mut required = b.required;
        required.sort_unstable();
        let plain: Vec<u64> = members.iter().zip(&counts).map(|(m, c)| m & !c).collect();
        let mut req_bits = vec![0u64; self.words];
        for &t in &required {
            if let Some(i) = index(t) {
                req_bits[i >> 6] |= 1u64 << (i & 63);
            }
        }
        let required_masks: Vec<(u32, u64)> = req_bits
            .iter()
            .enumerate()
            .filter(|(_, m)| **m != 0)
            .map(|(w, &m)| (w as u32, m))
            .collect();
        Layout {
            members: members.into_boxed_slice(),
            counts: counts.into_boxed_slice(),
            groups: groups.into_boxed_slice(),
            required: required.into_boxed_slice(),
            plain: plain.into_boxed_slice(),
            required_masks: required_masks.into_boxed_slice(),
        }
    }
}

pub(super) fn load(xml: &str) -> Result<Dictionary, DictError> {
    let doc = Document::parse(xml).map_err(|e| DictError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "fix" {
        return Err(invalid("no <fix> root element"));
    }
    let kind = root.attribute("type").unwrap_or("FIX");
    if kind != "FIX" && kind != "FIXT" {
        return Err(invalid("type attribute must be FIX or FIXT"));
    }
    let major = root
        .attribute("major")
        .ok_or_else(|| invalid("major attribute not found on <fix>"))?;
    let minor = root
        .attribute("minor")
        .ok_or_else(|| invalid("minor attribute not found on <fix>"))?;
    let mut version = format!("{kind}.{major}.{minor}");
    match root.attribute("servicepack") {
        None | Some("0") | Some("") => {}
        Some(sp) => {
            version.push_str("SP");
            version.push_str(sp);
        }
    }
    let transport = kind == "FIXT";
    let pre_42 = version.as_str() < "FIX.4.2";

    // Fields.
    let fields_node = child(root, "fields").ok_or_else(|| invalid("<fields> section not found"))?;
    let mut fields: Vec<FieldDef> = Vec::new();
    let mut names: HashMap<Box<str>, u32> = HashMap::new();
    for el in fields_node
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "field")
    {
        let name = el
            .attribute("name")
            .ok_or_else(|| invalid("<field> does not have a name attribute"))?;
        let number = el
            .attribute("number")
            .ok_or_else(|| invalid(format!("<field> {name} does not have a number attribute")))?;
        let tag: u32 = number
            .trim()
            .parse()
            .ok()
            .filter(|&t| t > 0 && t <= 10_000_000)
            .ok_or_else(|| invalid(format!("<field> {name} has an invalid number {number}")))?;
        let xml_type = el
            .attribute("type")
            .ok_or_else(|| invalid(format!("<field> {name} does not have a type attribute")))?;
        if names.insert(name.into(), tag).is_some() {
            return Err(invalid(format!(
                "field named {name} defined multiple times"
            )));
        }
        let mut set = EnumSet::default();
        let mut multi: Vec<Box<[u8]>> = Vec::new();
        let mut any = false;
        for v in el
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "value")
        {
            let e = v.attribute("enum").ok_or_else(|| {
                invalid(format!(
                    "<value> does not have enum attribute in field {name}"
                ))
            })?;
            any = true;
            match e.as_bytes() {
                [b] => set.single[usize::from(*b >> 6)] |= 1u64 << (b & 63),
                other => multi.push(other.into()),
            }
        }
        multi.sort_unstable();
        multi.dedup();
        set.multi = multi.into_boxed_slice();
        fields.push(FieldDef {
            tag,
            name: name.into(),
            ftype: field_type(xml_type, pre_42),
            enums: any.then(|| Box::new(set)),
        });
    }
    if fields.is_empty() {
        return Err(invalid("no fields defined"));
    }
    if fields.len() >= usize::from(u16::MAX) {
        return Err(invalid("too many fields"));
    }
    let max_tag = fields.iter().map(|f| f.tag).max().unwrap_or(0) as usize;
    let mut tag_index = vec![0u16; max_tag + 1];
    for (i, f) in fields.iter().enumerate() {
        let slot = &mut tag_index[f.tag as usize];
        if *slot != 0 {
            return Err(invalid(format!(
                "field number {} defined multiple times",
                f.tag
            )));
        }
        *slot = (i + 1) as u16;
    }
    let words = fields.len().div_ceil(64);

    let components: HashMap<&str, Node<'_, '_>> = match child(root, "components") {
        Some(c) => c
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "component")
            .filter_map(|n| n.attribute("name").map(|name| (name, n)))
            .collect(),
        None => HashMap::new(),
    };

    let mut loader = Loader {
        names,
        components,
        groups: Vec::new(),
        group_ids: HashMap::new(),
        tag_index,
        words,
    };

    // Header and trailer: FIX 5.0 application dictionaries have none (FIXT.1.1 carries them).
    let has_envelope = transport || major < "5";
    let mut header = Layout::default();
    let mut trailer = Layout::default();
    if has_envelope {
        for (section, out) in [("header", &mut header), ("trailer", &mut trailer)] {
            let node = child(root, section)
                .ok_or_else(|| invalid(format!("<{section}> section not found")))?;
            let mut b = Builder::default();
            loader.add_children(node, &mut b, true, false, 0)?;
            if b.members.is_empty() {
                return Err(invalid(format!("no {section} fields defined")));
            }
            *out = loader.layout(b);
        }
    }

    // Messages.
    let messages_node =
        child(root, "messages").ok_or_else(|| invalid("<messages> section not found"))?;
    let mut messages = Vec::new();
    for el in messages_node
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "message")
    {
        let msg_type = el
            .attribute("msgtype")
            .ok_or_else(|| invalid("<message> does not have a msgtype attribute"))?;
        if msg_type.is_empty() {
            return Err(invalid("<message> with an empty msgtype"));
        }
        let mut b = Builder::default();
        loader.add_children(el, &mut b, true, false, 0)?;
        messages.push(MsgDef {
            msg_type: msg_type.as_bytes().into(),
            name: el.attribute("name").unwrap_or("").into(),
            admin: el.attribute("msgcat") == Some("admin"),
            body: loader.layout(b),
        });
    }
    if messages.is_empty() {
        return Err(invalid("no messages defined"));
    }
    let mut msg_short = Vec::new();
    let mut msg_long = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let i = i as u32;
        match pack_msg_type(&m.msg_type) {
            Some(k) => msg_short.push((k, i)),
            None => msg_long.push((m.msg_type.clone(), i)),
        }
    }
    msg_short.sort_unstable();
    let mut msg_single = [0u16; 256];
    for (i, m) in messages.iter().enumerate() {
        if let [b] = *m.msg_type {
            msg_single[usize::from(b)] =
                u16::try_from(i + 1).map_err(|_| invalid("too many messages"))?;
        }
    }
    msg_long.sort_unstable();
    if msg_short.windows(2).any(|w| w[0].0 == w[1].0)
        || msg_long.windows(2).any(|w| w[0].0 == w[1].0)
    {
        return Err(invalid("message type defined multiple times"));
    }

    let fast = super::fast::build_table(&fields, &loader.tag_index, &header, &trailer);
    Ok(Dictionary {
        version,
        transport,
        fast,
        id: super::next_dictionary_id(),
        tag_index: loader.tag_index.into_boxed_slice(),
        fields,
        names: loader.names,
        header,
        trailer,
        messages,
        msg_single,
        msg_short,
        msg_long,
        groups: loader.groups,
        words,
    })
}
