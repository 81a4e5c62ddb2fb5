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
    let rows: Vec<(i64, i64, i64, String)> = super::read!(store, |pool| {
        bind_values!(sqlx::query_as(&explain), values)
            .fetch_all(pool)
            .await
            .unwrap()
    });
    rows.into_iter()
        .map(|row| row.3)
        .collect::<Vec<_>>()
        .join("\n")
}
