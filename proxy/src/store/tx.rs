//! One transaction, the same way on both backends: [`Store::transaction`]
//! runs an async closure over a [`Tx`] (statements with dynamically typed
//! parameters and rows), committed when the closure succeeds and rolled back
//! when it fails.
//!
//! This is how the ledger (webhook outbox, deliveries, archive index,
//! reconciliation findings; see [`crate::ledger`]) keeps one copy of its SQL and
//! of its multi-statement logic for SQLite and PostgreSQL. Statements are
//! written in PostgreSQL's placeholder style (`$1`, `$2`, …); SQLite runs them
//! with `?1`, `?2`, … ([`sqlite_sql`]). What differs between the dialects is
//! asked of the transaction: [`Tx::row_lock`] (`FOR UPDATE` on PostgreSQL,
//! nothing on SQLite, whose single writer already serialises) and
//! [`Tx::skip_locked`] (`FOR UPDATE SKIP LOCKED` for queue claims).
//!
//! [`Store::transaction`]: super::Store::transaction

use std::borrow::Cow;
use std::error::Error;

use futures_util::future::BoxFuture;
use rusqlite::types::ValueRef;
use tokio_postgres::types::{IsNull, ToSql, Type};

use super::StoreError;

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// SQL NULL.
    Null,
    /// An integer (`BIGINT`; SQLite `INTEGER`).
    Int(i64),
    /// Text.
    Text(String),
    /// A boolean (PostgreSQL `BOOLEAN`; SQLite stores 0 or 1).
    Bool(bool),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Bool(v)
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(v.clone())
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_owned())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

/// Parameters: `vals![a, b, c]` (anything `Into<Val>`).
#[macro_export]
#[doc(hidden)]
macro_rules! vals {
    ($($v:expr),* $(,)?) => { [$($crate::store::tx::Val::from($v)),*] };
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Val>);

fn bad(i: usize, want: &str, got: &Val) -> StoreError {
    StoreError(format!("column {i}: expected {want}, found {got:?}"))
}

impl Row {
    fn at(&self, i: usize) -> Result<&Val, StoreError> {
        self.0.get(i).ok_or_else(|| StoreError(format!("no column {i}")))
    }
    /// An integer column.
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?
            .ok_or_else(|| StoreError(format!("column {i} is NULL")))
    }
    /// A nullable integer column.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            Val::Int(v) => Ok(Some(*v)),
            other => Err(bad(i, "an integer", other)),
        }
    }
    /// A text column.
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError(format!("column {i} is NULL")))
    }
    /// A nullable text column.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            Val::Null => Ok(None),
            Val::Text(v) => Ok(Some(v.clone())),
            other => Err(bad(i, "text", other)),
        }
    }
    /// A boolean column (SQLite: an integer, 0 = false).
    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.at(i)? {
            Val::Bool(b) => Ok(*b),
            Val::Int(v) => Ok(*v != 0),
            other => Err(bad(i, "a boolean", other)),
        }
    }
}

/// A transaction in progress. Its futures borrow it; nothing here is spawned.
pub trait Tx: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Runs a statement; the number of rows it changed.
    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Val]) -> BoxFuture<'a, Result<u64, StoreError>>;
    /// Runs a query; its rows.
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Val]) -> BoxFuture<'a, Result<Vec<Row>, StoreError>>;
    /// The clause that locks the selected rows until the transaction ends
    /// (` FOR UPDATE` on PostgreSQL; empty on SQLite, where the transaction is
    /// the only writer anyway).
    fn row_lock(&self) -> &'static str {
        if self.backend() == "postgres" {
            " FOR UPDATE"
        } else {
            ""
        }
    }
    /// The clause for queue claims: lock the selected rows and pass over rows
    /// that another transaction holds (` FOR UPDATE SKIP LOCKED` on PostgreSQL).
    fn skip_locked(&self) -> &'static str {
        if self.backend() == "postgres" {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    }
}

impl dyn Tx + '_ {
    /// The first row, if any.
    pub async fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }
    /// Exactly one row.
    pub async fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| StoreError("a query expected to answer one row answered none".into()))
    }
}

/// The work of one transaction, type-erased for [`super::Backend::transaction`].
pub type TxJob =
    Box<dyn for<'c> FnOnce(&'c mut dyn Tx) -> BoxFuture<'c, Result<Box<dyn std::any::Any + Send>, StoreError>> + Send>;

/// `$1` → `?1` (SQLite's numbered parameters; `$` is never used otherwise in the
/// shared statements).
pub fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

// ---- SQLite ----

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(match self {
            Val::Null => ToSqlOutput::Owned(Value::Null),
            Val::Int(v) => ToSqlOutput::Owned(Value::Integer(*v)),
            Val::Bool(b) => ToSqlOutput::Owned(Value::Integer(*b as i64)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn sqlite_val(v: ValueRef<'_>) -> Val {
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(f) => Val::Int(f as i64),
        ValueRef::Text(t) | ValueRef::Blob(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

/// A SQLite transaction: the connection of the database thread, inside the
/// batch's transaction (see [`super::SqliteStore::call`]). It borrows the
/// connection mutably (the job has it to itself), which is what makes it `Send`.
pub(crate) struct SqliteTx<'c> {
    conn: &'c mut rusqlite::Connection,
}

impl<'c> SqliteTx<'c> {
    pub(crate) fn new(conn: &'c mut rusqlite::Connection) -> SqliteTx<'c> {
        SqliteTx { conn }
    }

    fn exec_now(&self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut s = self
            .conn
            .prepare_cached(&sqlite_sql(sql))
            .map_err(|e| StoreError(e.to_string()))?;
        s.execute(rusqlite::params_from_iter(params.iter()))
            .map(|n| n as u64)
            .map_err(|e| StoreError(e.to_string()))
    }

    fn query_now(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let e = |e: rusqlite::Error| StoreError(e.to_string());
        let mut s = self.conn.prepare_cached(&sqlite_sql(sql)).map_err(e)?;
        let n = s.column_count();
        let mut rows = s.query(rusqlite::params_from_iter(params.iter())).map_err(e)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(e)? {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(sqlite_val(r.get_ref(i).map_err(e)?));
            }
            out.push(Row(v));
        }
        Ok(out)
    }
}

impl Tx for SqliteTx<'_> {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Val]) -> BoxFuture<'a, Result<u64, StoreError>> {
        let r = self.exec_now(sql, params);
        Box::pin(std::future::ready(r))
    }
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Val]) -> BoxFuture<'a, Result<Vec<Row>, StoreError>> {
        let r = self.query_now(sql, params);
        Box::pin(std::future::ready(r))
    }
}

/// Drives a future whose every await is already complete (a transaction over a
/// [`SqliteTx`]) on the current thread.
pub(crate) fn ready<T>(fut: BoxFuture<'_, T>) -> T {
    let mut fut = fut;
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!("a SQLite transaction never waits"),
    }
}

// ---- PostgreSQL ----

impl ToSql for Val {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Val::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Val::Int(v) => v.to_sql(ty, out),
            Val::Text(s) => s.to_sql(ty, out),
            Val::Bool(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty)
            || <i32 as ToSql>::accepts(ty)
            || <i16 as ToSql>::accepts(ty)
            || <String as ToSql>::accepts(ty)
            || <bool as ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

pub(crate) fn pg_row(r: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let e = |e: tokio_postgres::Error| StoreError(format!("postgres: {e}"));
    let mut v = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let t = c.type_();
        let val = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i).map_err(e)?.map_or(Val::Null, Val::Int)
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)
                .map_err(e)?
                .map_or(Val::Null, |x| Val::Int(x.into()))
        } else if *t == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)
                .map_err(e)?
                .map_or(Val::Null, |x| Val::Int(x.into()))
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i).map_err(e)?.map_or(Val::Null, Val::Bool)
        } else if <String as tokio_postgres::types::FromSql>::accepts(t) {
            r.try_get::<_, Option<String>>(i)
                .map_err(e)?
                .map_or(Val::Null, Val::Text)
        } else {
            return Err(StoreError(format!(
                "postgres: column {} has the unsupported type {t}",
                c.name()
            )));
        };
        v.push(val);
    }
    Ok(Row(v))
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbered_parameters() {
        assert_eq!(
            super::sqlite_sql("SELECT 1 WHERE a = $1 AND b = $12 OR c = '$'"),
            "SELECT 1 WHERE a = ?1 AND b = ?12 OR c = '$'"
        );
    }
}
