//! Typed condition and update expressions: attribute names and values become placeholders, so no
//! caller writes an expression string or collides with a reserved word.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// A value in an expression.
pub type Value = AttributeValue;

pub fn s(v: impl Into<String>) -> Value {
    AttributeValue::S(v.into())
}
pub fn n(v: impl Into<i64>) -> Value {
    AttributeValue::N(v.into().to_string())
}
pub fn b(v: bool) -> Value {
    AttributeValue::Bool(v)
}

/// A write's condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// The item does not exist yet.
    New,
    /// The item exists.
    Exists,
    Missing(&'static str),
    Present(&'static str),
    Eq(&'static str, Value),
    Ne(&'static str, Value),
    Lt(&'static str, Value),
    Le(&'static str, Value),
    Gt(&'static str, Value),
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

impl Cond {
    pub fn and(self, other: Cond) -> Cond {
        match self {
            Cond::All(mut v) => {
                v.push(other);
                Cond::All(v)
            }
            c => Cond::All(vec![c, other]),
        }
    }
    pub fn or(self, other: Cond) -> Cond {
        match self {
            Cond::Any(mut v) => {
                v.push(other);
                Cond::Any(v)
            }
            c => Cond::Any(vec![c, other]),
        }
    }
}

/// An attribute, or a field of an element of a list attribute (`checkouts[2].payment_intent`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Path {
    Attr(&'static str),
    InList(&'static str, usize, Option<&'static str>),
}

impl From<&'static str> for Path {
    fn from(a: &'static str) -> Path {
        Path::Attr(a)
    }
}

/// An update: `SET a = v`, `ADD n v`, `REMOVE a`, in one expression.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    sets: Vec<(Path, Value)>,
    defaults: Vec<(&'static str, Value)>,
    adds: Vec<(&'static str, Value)>,
    removes: Vec<Path>,
}

impl Update {
    pub fn new() -> Update {
        Update::default()
    }
    pub fn set(mut self, attr: impl Into<Path>, v: Value) -> Update {
        self.sets.push((attr.into(), v));
        self
    }
    /// `SET a = if_not_exists(a, v)`: the value only where the attribute is missing.
    pub fn set_default(mut self, attr: &'static str, v: Value) -> Update {
        self.defaults.push((attr, v));
        self
    }
    pub fn add(mut self, attr: &'static str, v: Value) -> Update {
        self.adds.push((attr, v));
        self
    }
    pub fn remove(mut self, attr: impl Into<Path>) -> Update {
        self.removes.push(attr.into());
        self
    }
}

/// Placeholders collected while rendering expressions for one request.
#[derive(Debug, Default)]
pub struct Names {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, Value>,
}

impl Names {
    fn name(&mut self, attr: &str) -> String {
        let key = format!("#{}", attr.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
        self.names.insert(key.clone(), attr.to_string());
        key
    }
    fn value(&mut self, v: &Value) -> String {
        let key = format!(":v{}", self.values.len());
        self.values.insert(key.clone(), v.clone());
        key
    }
    fn path(&mut self, p: &Path) -> String {
        match p {
            Path::Attr(a) => self.name(a),
            Path::InList(list, i, None) => format!("{}[{i}]", self.name(list)),
            Path::InList(list, i, Some(field)) => format!("{}[{i}].{}", self.name(list), self.name(field)),
        }
    }
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    pub fn values(&self) -> Option<HashMap<String, Value>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    pub fn cond(&mut self, c: &Cond) -> String {
        let cmp = |a: &str, op: &str, v: &Value, this: &mut Names| {
            let (a, v) = (this.name(a), this.value(v));
            format!("{a} {op} {v}")
        };
        match c {
            Cond::New => format!("attribute_not_exists({})", self.name("PK")),
            Cond::Exists => format!("attribute_exists({})", self.name("PK")),
            Cond::Missing(a) => format!("attribute_not_exists({})", self.name(a)),
            Cond::Present(a) => format!("attribute_exists({})", self.name(a)),
            Cond::Eq(a, v) => cmp(a, "=", v, self),
            Cond::Ne(a, v) => cmp(a, "<>", v, self),
            Cond::Lt(a, v) => cmp(a, "<", v, self),
            Cond::Le(a, v) => cmp(a, "<=", v, self),
            Cond::Gt(a, v) => cmp(a, ">", v, self),
            Cond::All(cs) => cs.iter().map(|c| format!("({})", self.cond(c))).collect::<Vec<_>>().join(" AND "),
            Cond::Any(cs) => cs.iter().map(|c| format!("({})", self.cond(c))).collect::<Vec<_>>().join(" OR "),
        }
    }

    pub fn update(&mut self, u: &Update) -> String {
        let mut parts = Vec::new();
        let mut sets: Vec<String> =
            u.sets.iter().map(|(a, v)| format!("{} = {}", self.path(a), self.value(v))).collect();
        for (a, v) in &u.defaults {
            let (n, v) = (self.name(a), self.value(v));
            sets.push(format!("{n} = if_not_exists({n}, {v})"));
        }
        if !sets.is_empty() {
            parts.push(format!("SET {}", sets.join(", ")));
        }
        if !u.adds.is_empty() {
            let adds: Vec<String> = u.adds.iter().map(|(a, v)| format!("{} {}", self.name(a), self.value(v))).collect();
            parts.push(format!("ADD {}", adds.join(", ")));
        }
        if !u.removes.is_empty() {
            let rms: Vec<String> = u.removes.iter().map(|a| self.path(a)).collect();
            parts.push(format!("REMOVE {}", rms.join(", ")));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_render_with_placeholders_for_every_name_and_value() {
        let mut p = Names::default();
        let c = Cond::Missing("hits").or(Cond::Lt("hits", n(5)));
        assert_eq!(p.cond(&c), "(attribute_not_exists(#hits)) OR (#hits < :v0)");
        assert_eq!(p.names.get("#hits").map(String::as_str), Some("hits"));
        assert_eq!(p.values.get(":v0"), Some(&n(5)));
    }

    #[test]
    fn an_update_sets_adds_and_removes_in_one_expression() {
        let mut p = Names::default();
        let u = Update::new().set("status", s("sent")).add("attempts", n(1)).remove("DueAt");
        assert_eq!(p.update(&u), "SET #status = :v0 ADD #attempts :v1 REMOVE #DueAt");
        let mut p = Names::default();
        let u = Update::new().set_default("window_start", n(7)).add("count", n(1));
        assert_eq!(p.update(&u), "SET #window_start = if_not_exists(#window_start, :v0) ADD #count :v1");
    }

    #[test]
    fn a_field_of_a_list_element_is_a_path_of_placeholders() {
        let mut p = Names::default();
        let u = Update::new()
            .set(Path::InList("checkouts", 2, Some("payment_intent")), s("pi_1"))
            .remove(Path::InList("checkouts", 0, None));
        assert_eq!(p.update(&u), "SET #checkouts[2].#payment_intent = :v0 REMOVE #checkouts[0]");
    }
}
