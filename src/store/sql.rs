//! Statements whose shape depends on the request (filters, paging), built once as
//! text with numbered parameters and bound on whichever backend runs them.

use uuid::Uuid;

use crate::domain::Timestamp;

/// A value to bind to a numbered parameter.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Text(String),
    OptText(Option<String>),
    OptBool(Option<bool>),
    Int(i64),
    Time(Timestamp),
    OptTime(Option<Timestamp>),
    /// A nullable double-precision number.
    Float(Option<f64>),
}

/// SQL text and the values of its `$N` parameters, in order.
#[derive(Debug, Default)]
pub(super) struct Sql {
    pub text: String,
    pub values: Vec<Value>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends `(id, id, …)`, each id bound.
    pub fn push_ids(&mut self, ids: impl IntoIterator<Item = Uuid>) -> &mut Self {
        self.text.push('(');
        for (i, id) in ids.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(Value::Uuid(id));
        }
        self.text.push(')');
        self
    }

    /// Appends the next parameter's placeholder and remembers its value.
    pub fn bind(&mut self, value: Value) -> &mut Self {
        self.values.push(value);
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// The text with each `$N` as an anonymous `?`, for a statement whose every
    /// parameter was placed by [`Sql::bind`] (once each, in order) and that runs on
    /// SQLite. SQLite finds a numbered parameter by a walk of all the statement's
    /// names, to bind it and to prepare it, so a multi-row insert of thousands of
    /// `$N` costs the square of their number; anonymous ones cost nothing.
    pub fn anonymous_text(&self) -> String {
        let mut text = String::with_capacity(self.text.len());
        let mut rest = self.text.as_str();
        let mut expected = 1;
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            debug_assert_eq!(
                rest[at + 1..at + 1 + digits].parse::<usize>().ok(),
                Some(expected),
                "parameters bound once each, in order"
            );
            expected += 1;
            text.push('?');
            rest = &rest[at + 1 + digits..];
        }
        text.push_str(rest);
        text
    }
}

/// Binds every value of an [`Sql`] to a query, on whichever backend it runs.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                $crate::store::sql::Value::Uuid(v) => query.bind(v),
                $crate::store::sql::Value::OptUuid(v) => query.bind(v),
                $crate::store::sql::Value::OptTime(v) => query.bind(v),
                $crate::store::sql::Value::Text(v) => query.bind(v),
                $crate::store::sql::Value::OptText(v) => query.bind(v),
                $crate::store::sql::Value::OptBool(v) => query.bind(v),
                $crate::store::sql::Value::Int(v) => query.bind(v),
                $crate::store::sql::Value::Time(v) => query.bind(v),
                $crate::store::sql::Value::Float(v) => query.bind(v),
            };
        }
        query
    }};
}

pub(super) use bind_values;

/// SQLite's plan for a statement, one step per line: what the plan tests hold
/// statements to (an index search, never a table scan).
#[cfg(test)]
pub(super) async fn plan(store: &super::Store, sql: Sql) -> String {
    let Sql { text, values } = sql;
    let explain = format!("EXPLAIN QUERY PLAN {text}");
    // Prepared anew each time: a kept EXPLAIN would show the plan of the schema and
    // statistics it was first prepared with, as it never checks them again.
    let rows = async {
        let rows: Vec<(i64, i64, i64, String)> = super::read!(store, |pool| {
            bind_values!(sqlx::query_as(&explain).persistent(false), values)
                .fetch_all(pool)
                .await?
        });
        Ok::<_, sqlx::Error>(rows)
    };
    rows.await
        .unwrap()
        .into_iter()
        .map(|row| row.3)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_parameters_become_anonymous_in_order() {
        let mut sql = Sql::new("INSERT INTO t (a, b) VALUES ");
        for i in 0..12 {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(Value::Int(i))
                .push(", ")
                .bind(Value::Text(format!("v{i}")))
                .push(")");
        }
        let text = sql.anonymous_text();
        assert!(text.starts_with("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"));
        assert!(text.ends_with("(?, ?)"));
        assert_eq!(text.matches('?').count(), sql.values.len());
        assert!(!text.contains('$'));
    }
}
