//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): the text is parsed
//! into an expression over attribute paths, which is then resolved against the
//! User or Group schema into the directory's [`Filter`] tree. Attributes every
//! resource shares a value of (an email's `type` is always `work`) are decided here;
//! the rest become conditions the store renders as SQL.

use crate::domain::{
    AttributeDefinition, AttributeType, CUSTOM_USER_SCHEMA, CompareOp, DeclaredAttr, Filter,
    FilterValue, GroupAttr, Timestamp, UserAttr,
};

use super::schemas::{ENTERPRISE_USER, GROUP, USER};

/// The longest filter read, in bytes; a longer one is refused before it is parsed.
/// Identity providers send filters of one to a few conditions; this leaves room
/// for a [`MAX_FILTER_TERMS`]-condition filter of member ids (about 50 bytes each).
pub const MAX_FILTER_LENGTH: usize = 16 * 1024;

/// The deepest nesting of parentheses, `not (…)` and value paths (`emails[…]`) in
/// a filter. The parser recurses once per level, so this bounds its stack, and the
/// SQL rendered from the filter nests no deeper than a small multiple of it.
pub const MAX_FILTER_DEPTH: usize = 32;

/// The most conditions (comparisons and `pr`) one filter holds. Each becomes at most
/// one bound parameter and one operand of a flat `AND`/`OR` list in SQL, so a
/// filter within this and [`MAX_FILTER_DEPTH`] renders far inside SQLite's
/// expression depth (1000) and both backends' bound-parameter limits (SQLite 32766,
/// PostgreSQL 65535).
pub const MAX_FILTER_TERMS: usize = 200;

/// The longest PATCH `path` read, in bytes: an attribute path and a value filter,
/// which is itself held to the filter limits above.
pub const MAX_PATH_LENGTH: usize = MAX_FILTER_LENGTH + 1024;

/// Why a filter or path could not be read; answered 400 `invalidFilter` or `invalidPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(message.into()))
}

/// An attribute path: an optional schema URN, an attribute and a sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub schema: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Reads `[URN ":"] attr ["." sub]`.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        // An extension's URN alone names the extension's object (as a PATCH path).
        for extension in [ENTERPRISE_USER, CUSTOM_USER_SCHEMA] {
            if text.eq_ignore_ascii_case(extension) {
                return Ok(AttrPath {
                    schema: None,
                    attr: extension.to_owned(),
                    sub: None,
                });
            }
        }
        let known = [USER, GROUP, ENTERPRISE_USER, CUSTOM_USER_SCHEMA];
        let (schema, rest) = match known.iter().find(|urn| {
            text.get(..urn.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(urn))
                && text.as_bytes().get(urn.len()) == Some(&b':')
        }) {
            Some(urn) => (Some((*urn).to_owned()), &text[urn.len() + 1..]),
            _ if text.contains(':') => return fail(format!("unknown schema in \"{text}\"")),
            _ => (None, text),
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((attr, sub)) => (attr, Some(sub)),
            None => (rest, None),
        };
        let valid = |name: &str| {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
            return fail(format!("\"{text}\" is not an attribute path"));
        }
        Ok(AttrPath {
            schema,
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// `attr` or `attr.sub`, lower-cased, for matching against a schema.
    fn key(&self) -> String {
        match &self.sub {
            Some(sub) => format!("{}.{}", self.attr, sub).to_ascii_lowercase(),
            None => self.attr.to_ascii_lowercase(),
        }
    }
}

/// A literal a filter compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Bool(bool),
    Null,
    Number(String),
}

/// A parsed filter, before its attributes are resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Present(AttrPath),
    Compare(AttrPath, CompareOp, Literal),
    /// `attr[filter]`: the filter's paths are sub-attributes of `attr`.
    ValuePath(AttrPath, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Text(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: find its closing quote, then let serde decode escapes.
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (i, c) in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            end = Some(i);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let Some(end) = end else {
                    return fail("a string is not closed");
                };
                let value: String = serde_json::from_str(&text[start..=end])
                    .map_err(|_| FilterError("a string has an invalid escape".into()))?;
                tokens.push(Token::Text(value));
            }
            _ => {
                let mut end = text.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || "()[]\"".contains(c) {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_owned()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// How many parentheses, `not (` and `[` enclose the current token.
    depth: usize,
    /// How many conditions have been read so far.
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), FilterError> {
        if self.next() == Some(token) {
            Ok(())
        } else {
            fail(format!("expected {what}"))
        }
    }

    /// Steps into a nested expression, refusing one deeper than [`MAX_FILTER_DEPTH`].
    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return fail(format!(
                "the filter nests parentheses, not (…) and value paths more than \
                 {MAX_FILTER_DEPTH} levels deep (the limit)"
            ));
        }
        Ok(())
    }

    /// Counts one condition, refusing more than [`MAX_FILTER_TERMS`].
    fn term(&mut self) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return fail(format!(
                "the filter has more than {MAX_FILTER_TERMS} conditions (the limit)"
            ));
        }
        Ok(())
    }

    /// `inner` read between an opening token already consumed and `close`.
    fn nested(&mut self, close: Token, what: &str) -> Result<Expr, FilterError> {
        self.enter()?;
        let inner = self.or()?;
        self.expect(close, what)?;
        self.depth -= 1;
        Ok(inner)
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.keyword("not") && self.tokens.get(self.at + 1) == Some(&Token::Open) {
            self.at += 2;
            let inner = self.nested(Token::Close, "\")\"")?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            return self.nested(Token::Close, "\")\"");
        }
        let Some(Token::Word(path)) = self.next() else {
            return fail("expected an attribute path");
        };
        let path = AttrPath::parse(&path)?;
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.nested(Token::CloseBracket, "\"]\"")?;
            return Ok(Expr::ValuePath(path, Box::new(inner)));
        }
        self.term()?;
        let Some(Token::Word(op)) = self.next() else {
            return fail(format!("expected an operator after \"{}\"", path.attr));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Expr::Present(path)),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            other => return fail(format!("\"{other}\" is not an operator")),
        };
        let value = match self.next() {
            Some(Token::Text(text)) => Literal::Text(text),
            Some(Token::Word(word)) => match word.as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                number if number.parse::<f64>().is_ok() => Literal::Number(number.to_owned()),
                other => return fail(format!("\"{other}\" is not a value; quote strings")),
            },
            _ => return fail("expected a value after the operator"),
        };
        Ok(Expr::Compare(path, op, value))
    }
}

/// Parses a filter's text, within [`MAX_FILTER_LENGTH`], [`MAX_FILTER_DEPTH`] and
/// [`MAX_FILTER_TERMS`].
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    if text.len() > MAX_FILTER_LENGTH {
        return fail(format!(
            "the filter is longer than {MAX_FILTER_LENGTH} bytes (the limit)"
        ));
    }
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
        depth: 0,
        terms: 0,
    };
    if parser.tokens.is_empty() {
        return fail("the filter is empty");
    }
    let expr = parser.or()?;
    if parser.at != parser.tokens.len() {
        return fail("unexpected text after the end of the filter");
    }
    Ok(expr)
}

/// A PATCH operation's `path`: an attribute, optionally narrowed by a value filter
/// and continued by a sub-attribute (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Expr>,
    pub sub: Option<String>,
}

impl PatchPath {
    /// Reads a path within [`MAX_PATH_LENGTH`]; its value filter is read as
    /// [`parse`] reads a filter.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        if text.len() > MAX_PATH_LENGTH {
            return fail(format!(
                "the path is longer than {MAX_PATH_LENGTH} bytes (the limit)"
            ));
        }
        let text = text.trim();
        let Some(open) = text.find('[') else {
            return Ok(PatchPath {
                attr: AttrPath::parse(text)?,
                filter: None,
                sub: None,
            });
        };
        let Some(close) = text.rfind(']') else {
            return fail("\"[\" is not closed");
        };
        if close < open {
            return fail("\"[\" is not closed");
        }
        let attr = AttrPath::parse(&text[..open])?;
        if attr.sub.is_some() {
            return fail("a value filter follows a multi-valued attribute");
        }
        let filter = parse(&text[open + 1..close])?;
        let sub = match &text[close + 1..] {
            "" => None,
            rest => match rest.strip_prefix('.') {
                Some(sub) if !sub.is_empty() => Some(sub.to_owned()),
                _ => return fail(format!("unexpected \"{rest}\" after the value filter")),
            },
        };
        Ok(PatchPath {
            attr,
            filter: Some(filter),
            sub,
        })
    }
}

/// Applies a comparison to a value every resource shares.
fn constant(actual: &str, op: CompareOp, value: &Literal) -> Result<bool, FilterError> {
    let Literal::Text(value) = value else {
        return Ok(op == CompareOp::Ne);
    };
    let (actual, value) = (actual.to_lowercase(), value.to_lowercase());
    Ok(match op {
        CompareOp::Eq => actual == value,
        CompareOp::Ne => actual != value,
        CompareOp::Co => actual.contains(&value),
        CompareOp::Sw => actual.starts_with(&value),
        CompareOp::Ew => actual.ends_with(&value),
        CompareOp::Gt => actual > value,
        CompareOp::Ge => actual >= value,
        CompareOp::Lt => actual < value,
        CompareOp::Le => actual <= value,
    })
}

/// How an attribute's values are compared.
#[derive(Debug, Clone)]
enum Kind<A> {
    /// Text, passed as written: the store compares it as the attribute is compared
    /// (case-insensitively for userName, emails, names and roles).
    Text(A),
    Id(A),
    Bool(A),
    Time(A),
    /// A number (a declared integer or decimal attribute).
    Number(A),
    /// The same for every resource (`User` for `meta.resourceType`).
    Shared(&'static str),
    /// An attribute this resource type does not have, in a search across types:
    /// unassigned on every resource of the type.
    Absent,
}

fn leaf<A: Clone>(
    kind: Kind<A>,
    op: Option<(CompareOp, &Literal)>,
) -> Result<Filter<A>, FilterError> {
    use CompareOp::*;
    let Some((op, value)) = op else {
        return Ok(match kind {
            Kind::Shared(_) => Filter::Constant(true),
            Kind::Absent => Filter::Constant(false),
            Kind::Text(a) | Kind::Id(a) | Kind::Bool(a) | Kind::Time(a) | Kind::Number(a) => {
                Filter::Present(a)
            }
        });
    };
    if *value == Literal::Null {
        // `eq null` asks for an absent value, `ne null` for a present one.
        let present = leaf(kind, None)?;
        return match op {
            Eq => Ok(Filter::not(present)),
            Ne => Ok(present),
            _ => fail("null compares with eq or ne only"),
        };
    }
    let text = |value: &Literal| match value {
        Literal::Text(text) => Ok(text.clone()),
        _ => fail("this attribute compares with a string"),
    };
    Ok(match kind {
        // An unassigned value equals nothing, and so differs from every value.
        Kind::Absent => Filter::Constant(op == Ne),
        Kind::Text(a) => Filter::Compare(a, op, FilterValue::Text(text(value)?)),
        Kind::Id(a) => {
            if !matches!(op, Eq | Ne) {
                return fail("ids compare with eq, ne or pr only");
            }
            match uuid::Uuid::parse_str(&text(value)?) {
                Ok(id) => Filter::Compare(a, op, FilterValue::Id(id)),
                // No object has an id that is not a UUID.
                Err(_) => Filter::Constant(op == Ne),
            }
        }
        Kind::Bool(a) => {
            let wanted = match value {
                Literal::Bool(b) => *b,
                Literal::Text(t) if t.eq_ignore_ascii_case("true") => true,
                Literal::Text(t) if t.eq_ignore_ascii_case("false") => false,
                _ => return fail("this attribute compares with true or false"),
            };
            if !matches!(op, Eq | Ne) {
                return fail("booleans compare with eq, ne or pr only");
            }
            Filter::Compare(a, op, FilterValue::Bool(wanted))
        }
        Kind::Time(a) => {
            if matches!(op, Co | Sw | Ew) {
                return fail("times compare with eq, ne, gt, ge, lt, le or pr");
            }
            let at = Timestamp::parse_rfc3339(&text(value)?)
                .map_err(|_| FilterError("times are RFC 3339 date-times".into()))?;
            Filter::Compare(a, op, FilterValue::Time(at))
        }
        Kind::Number(a) => {
            if matches!(op, Co | Sw | Ew) {
                return fail("numbers compare with eq, ne, gt, ge, lt, le or pr");
            }
            let number = match value {
                Literal::Number(n) => n.parse::<f64>().ok().filter(|n| n.is_finite()),
                _ => None,
            }
            .ok_or_else(|| FilterError("this attribute compares with a number".into()))?;
            Filter::Compare(a, op, FilterValue::Number(number))
        }
        Kind::Shared(actual) => Filter::Constant(constant(actual, op, value)?),
    })
}

/// Resolves an expression, where `kind_of` names the attribute kind of a path
/// (with the parent of a value path already joined in).
fn resolve<A: Clone>(
    expr: &Expr,
    parent: Option<&AttrPath>,
    kind_of: &dyn Fn(&AttrPath) -> Option<Kind<A>>,
) -> Result<Filter<A>, FilterError> {
    let path = |path: &AttrPath| -> Result<AttrPath, FilterError> {
        match parent {
            None => Ok(path.clone()),
            Some(_) if path.sub.is_some() || path.schema.is_some() => {
                fail("a value filter names sub-attributes only")
            }
            Some(parent) => Ok(AttrPath {
                schema: parent.schema.clone(),
                attr: parent.attr.clone(),
                sub: Some(path.attr.clone()),
            }),
        }
    };
    let kind = |p: &AttrPath| -> Result<Kind<A>, FilterError> {
        let p = path(p)?;
        kind_of(&p).ok_or_else(|| {
            FilterError(format!(
                "\"{}\" is not an attribute that can be filtered on",
                match &p.sub {
                    Some(sub) => format!("{}.{}", p.attr, sub),
                    None => p.attr.clone(),
                }
            ))
        })
    };
    Ok(match expr {
        Expr::And(l, r) => Filter::and(resolve(l, parent, kind_of)?, resolve(r, parent, kind_of)?),
        Expr::Or(l, r) => Filter::or(resolve(l, parent, kind_of)?, resolve(r, parent, kind_of)?),
        Expr::Not(inner) => Filter::not(resolve(inner, parent, kind_of)?),
        Expr::Present(p) => leaf(kind(p)?, None)?,
        Expr::Compare(p, op, value) => leaf(kind(p)?, Some((*op, value)))?,
        Expr::ValuePath(p, inner) => {
            if parent.is_some() || p.sub.is_some() {
                return fail("value filters do not nest");
            }
            let condition = resolve(inner, Some(p), kind_of)?;
            // One value meets the whole condition.
            match value_list(&p.attr) {
                Some(list) => Filter::AnyValue(list, Box::new(condition)),
                None => condition,
            }
        }
    })
}

/// The SCIM name of a multi-valued attribute whose values a value filter tests one
/// by one (`emails[type eq "work" and value co "@x"]`).
fn value_list(attr: &str) -> Option<&'static str> {
    ["emails", "phoneNumbers", "addresses", "roles"]
        .into_iter()
        .find(|list| list.eq_ignore_ascii_case(attr))
}

/// The kind of a declared attribute's values, when `path` names one of `declared`
/// (as `urn:…:roster:2.0:User:name`, the name in any letter case).
fn declared_kind(path: &AttrPath, declared: &[AttributeDefinition]) -> Option<Kind<UserAttr>> {
    if path.sub.is_some() {
        return None;
    }
    let attribute = declared
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(&path.attr))?;
    let attr = UserAttr::Declared(DeclaredAttr::of(attribute));
    Some(match attribute.kind {
        AttributeType::String | AttributeType::Reference => Kind::Text(attr),
        AttributeType::Boolean => Kind::Bool(attr),
        AttributeType::Integer | AttributeType::Decimal => Kind::Number(attr),
        AttributeType::DateTime => Kind::Time(attr),
    })
}

fn user_kind(path: &AttrPath, declared: &[AttributeDefinition]) -> Option<Kind<UserAttr>> {
    use UserAttr::*;
    let key = path.key();
    match path.schema.as_deref() {
        Some(CUSTOM_USER_SCHEMA) => return declared_kind(path, declared),
        Some(ENTERPRISE_USER) => {
            return Some(match key.as_str() {
                "organization" => Kind::Text(Company),
                "employeenumber" => Kind::Text(EmployeeNumber),
                "costcenter" => Kind::Text(CostCenter),
                "division" => Kind::Text(Division),
                "department" => Kind::Text(Department),
                "manager" | "manager.value" => Kind::Id(ManagerId),
                _ => return None,
            });
        }
        Some(GROUP) => return None,
        _ => {}
    }
    Some(match key.as_str() {
        "id" => Kind::Id(Id),
        "username" => Kind::Text(UserName),
        "emails" | "emails.value" => Kind::Text(EmailValue),
        "emails.type" => Kind::Text(EmailType),
        "phonenumbers.type" => Kind::Text(PhoneType),
        "addresses.type" => Kind::Text(AddressType),
        "emails.primary" => Kind::Bool(Primary("emails")),
        "phonenumbers.primary" => Kind::Bool(Primary("phoneNumbers")),
        "addresses.primary" => Kind::Bool(Primary("addresses")),
        "roles.primary" => Kind::Bool(Primary("roles")),
        "name.givenname" => Kind::Text(FirstName),
        "name.familyname" => Kind::Text(LastName),
        "displayname" => Kind::Text(DisplayName),
        "nickname" => Kind::Text(NickName),
        "title" => Kind::Text(Title),
        "usertype" => Kind::Text(UserType),
        "preferredlanguage" => Kind::Text(PreferredLanguage),
        "locale" => Kind::Text(Locale),
        "timezone" => Kind::Text(Timezone),
        "externalid" => Kind::Text(ExternalId),
        "phonenumbers" | "phonenumbers.value" => Kind::Text(Phone),
        "addresses.country" => Kind::Text(CountryCode),
        "roles" | "roles.value" => Kind::Text(Role),
        "active" => Kind::Bool(Active),
        "meta.created" => Kind::Time(Created),
        "meta.lastmodified" => Kind::Time(LastModified),
        "meta.resourcetype" => Kind::Shared("User"),
        // A user is in a group it belongs to at any depth (RFC 7643 §4.1.2).
        "groups" | "groups.value" => Kind::Id(GroupId(crate::domain::Membership::Effective)),
        _ => return None,
    })
}

fn group_kind(path: &AttrPath) -> Option<Kind<GroupAttr>> {
    use GroupAttr::*;
    if matches!(path.schema.as_deref(), Some(s) if s != GROUP) {
        return None;
    }
    Some(match path.key().as_str() {
        "id" => Kind::Id(Id),
        "displayname" => Kind::Text(Name),
        "externalid" => Kind::Text(ExternalId),
        "members" | "members.value" => Kind::Id(MemberId),
        "meta.created" => Kind::Time(Created),
        "meta.lastmodified" => Kind::Time(LastModified),
        "meta.resourcetype" => Kind::Shared("Group"),
        _ => return None,
    })
}

/// The attribute a `sortBy` names, when it is one a list can be ordered by; an
/// attribute every resource shares a value of orders nothing (`None`).
fn sort_attr<A: Clone>(
    text: &str,
    kind_of: &dyn Fn(&AttrPath) -> Option<Kind<A>>,
) -> Result<Option<A>, FilterError> {
    let path = AttrPath::parse(text.trim())?;
    match kind_of(&path) {
        Some(Kind::Text(a) | Kind::Id(a) | Kind::Bool(a) | Kind::Time(a) | Kind::Number(a)) => {
            Ok(Some(a))
        }
        Some(Kind::Shared(_)) => Ok(None),
        Some(Kind::Absent) | None => fail(format!("cannot sort by \"{text}\"")),
    }
}

/// Reads a `sortBy` on users: any attribute a filter may name but the tenant's
/// declared ones.
pub fn user_sort(text: &str) -> Result<Option<UserAttr>, FilterError> {
    // Users are ordered by their sign-in address among their emails.
    let attr = sort_attr(text, &|path| user_kind(path, &[]))?;
    Ok(attr.map(|attr| match attr {
        UserAttr::EmailValue => UserAttr::Email,
        other => other,
    }))
}

/// Reads a `sortBy` on groups.
pub fn group_sort(text: &str) -> Result<Option<GroupAttr>, FilterError> {
    sort_attr(text, &group_kind)
}

/// Reads a filter on users of a tenant that declares the attributes `declared`.
pub fn user_filter(
    text: &str,
    declared: &[AttributeDefinition],
) -> Result<Filter<UserAttr>, FilterError> {
    resolve(&parse(text)?, None, &|path| user_kind(path, declared))
}

/// Reads a filter on groups.
pub fn group_filter(text: &str) -> Result<Filter<GroupAttr>, FilterError> {
    resolve(&parse(text)?, None, &group_kind)
}

/// Reads a filter of a search across resource types (RFC 7644 §3.4.3 at the root)
/// into one for users and one for groups. An attribute that one type lacks is
/// unassigned on its resources; one that neither has is refused.
pub fn resource_filters(
    text: &str,
    declared: &[AttributeDefinition],
) -> Result<(Filter<UserAttr>, Filter<GroupAttr>), FilterError> {
    let expr = parse(text)?;
    let unknown_to_users = std::cell::RefCell::new(Vec::new());
    let unknown_to_groups = std::cell::RefCell::new(Vec::new());
    let users = resolve(&expr, None, &|path| {
        user_kind(path, declared).or_else(|| {
            unknown_to_users.borrow_mut().push(path.clone());
            Some(Kind::Absent)
        })
    })?;
    let groups = resolve(&expr, None, &|path| {
        group_kind(path).or_else(|| {
            unknown_to_groups.borrow_mut().push(path.clone());
            Some(Kind::Absent)
        })
    })?;
    let unknown_to_groups = unknown_to_groups.into_inner();
    if let Some(path) = unknown_to_users
        .into_inner()
        .into_iter()
        .find(|p| unknown_to_groups.contains(p))
    {
        return fail(format!(
            "\"{}\" is an attribute of neither User nor Group that can be filtered on",
            path.key()
        ));
    }
    Ok((users, groups))
}

/// Resolves a value filter on a group's `members` to the member ids it names when it
/// is `value eq "<id>"`, possibly or-ed: what a members PATCH path narrows to.
pub fn member_ids(expr: &Expr) -> Result<Vec<uuid::Uuid>, FilterError> {
    match expr {
        Expr::Or(l, r) => {
            let mut ids = member_ids(l)?;
            ids.extend(member_ids(r)?);
            Ok(ids)
        }
        Expr::Compare(path, CompareOp::Eq, Literal::Text(id))
            if path.schema.is_none()
                && path.sub.is_none()
                && path.attr.eq_ignore_ascii_case("value") =>
        {
            Ok(uuid::Uuid::parse_str(id).into_iter().collect())
        }
        _ => fail("members are selected by value eq \"<id>\", joined by or"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CompareOp::*;

    /// A filter on users of a tenant that declares nothing.
    fn user_filter(text: &str) -> Result<Filter<UserAttr>, FilterError> {
        super::user_filter(text, &[])
    }

    fn resource_filters(text: &str) -> Result<(Filter<UserAttr>, Filter<GroupAttr>), FilterError> {
        super::resource_filters(text, &[])
    }

    fn path(attr: &str) -> AttrPath {
        AttrPath::parse(attr).unwrap()
    }

    fn text(s: &str) -> Literal {
        Literal::Text(s.into())
    }

    #[test]
    fn every_operator_parses_in_any_letter_case() {
        for (word, op) in [
            ("eq", Eq),
            ("NE", Ne),
            ("Co", Co),
            ("sw", Sw),
            ("ew", Ew),
            ("gt", Gt),
            ("ge", Ge),
            ("lt", Lt),
            ("LE", Le),
        ] {
            assert_eq!(
                parse(&format!("userName {word} \"a\"")).unwrap(),
                Expr::Compare(path("userName"), op, text("a"))
            );
        }
        assert_eq!(parse("title pr").unwrap(), Expr::Present(path("title")));
        assert_eq!(parse("title PR").unwrap(), Expr::Present(path("title")));
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let a = || Box::new(Expr::Present(path("a")));
        let b = || Box::new(Expr::Present(path("b")));
        let c = || Box::new(Expr::Present(path("c")));
        assert_eq!(
            parse("a pr or b pr and c pr").unwrap(),
            Expr::Or(a(), Box::new(Expr::And(b(), c())))
        );
        assert_eq!(
            parse("(a pr or b pr) and c pr").unwrap(),
            Expr::And(Box::new(Expr::Or(a(), b())), c())
        );
        assert_eq!(
            parse("not (a pr) and b pr").unwrap(),
            Expr::And(Box::new(Expr::Not(a())), b())
        );
    }

    #[test]
    fn literals_are_strings_booleans_null_and_numbers() {
        assert_eq!(
            parse(r#"a eq "x \"y\" \u00e9""#).unwrap(),
            Expr::Compare(path("a"), Eq, text("x \"y\" é"))
        );
        assert_eq!(
            parse("active eq false").unwrap(),
            Expr::Compare(path("active"), Eq, Literal::Bool(false))
        );
        assert_eq!(
            parse("a eq null").unwrap(),
            Expr::Compare(path("a"), Eq, Literal::Null)
        );
        assert_eq!(
            parse("a gt 10.5").unwrap(),
            Expr::Compare(path("a"), Gt, Literal::Number("10.5".into()))
        );
    }

    #[test]
    fn paths_carry_schemas_and_sub_attributes() {
        assert_eq!(
            path("name.givenName"),
            AttrPath {
                schema: None,
                attr: "name".into(),
                sub: Some("givenName".into())
            }
        );
        assert_eq!(
            path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization"),
            AttrPath {
                schema: Some(ENTERPRISE_USER.into()),
                attr: "organization".into(),
                sub: None
            }
        );
        assert_eq!(
            path("urn:ietf:params:scim:schemas:core:2.0:User:userName")
                .schema
                .as_deref(),
            Some(USER)
        );
        assert!(AttrPath::parse("urn:example:unknown:attr").is_err());
        assert!(AttrPath::parse("9lives").is_err());
    }

    #[test]
    fn value_paths_hold_a_filter_on_sub_attributes() {
        assert_eq!(
            parse(r#"emails[type eq "work" and value co "@example.com"]"#).unwrap(),
            Expr::ValuePath(
                path("emails"),
                Box::new(Expr::And(
                    Box::new(Expr::Compare(path("type"), Eq, text("work"))),
                    Box::new(Expr::Compare(path("value"), Co, text("@example.com")))
                ))
            )
        );
    }

    #[test]
    fn bad_syntax_is_refused() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName eq bob",
            "userName zz \"a\"",
            "(userName pr",
            "userName pr)",
            "emails[type eq \"work\"",
            "userName eq \"open",
            "a pr and",
            "not a pr",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn user_filters_resolve_to_the_directorys_attributes() {
        assert_eq!(
            user_filter(r#"userName eq "Bob@Example.COM""#).unwrap(),
            Filter::Compare(
                UserAttr::UserName,
                Eq,
                FilterValue::Text("Bob@Example.COM".into())
            )
        );
        assert_eq!(
            user_filter(r#"externalId eq "AbC""#).unwrap(),
            Filter::Compare(UserAttr::ExternalId, Eq, FilterValue::Text("AbC".into()))
        );
        assert_eq!(
            user_filter(r#"emails[type eq "work" and value co "@Example.com"]"#).unwrap(),
            Filter::AnyValue(
                "emails",
                Box::new(Filter::and(
                    Filter::Compare(UserAttr::EmailType, Eq, FilterValue::Text("work".into())),
                    Filter::Compare(
                        UserAttr::EmailValue,
                        Co,
                        FilterValue::Text("@Example.com".into())
                    )
                ))
            )
        );
        assert_eq!(
            user_filter(r#"emails[type eq "Home"]"#).unwrap(),
            Filter::AnyValue(
                "emails",
                Box::new(Filter::Compare(
                    UserAttr::EmailType,
                    Eq,
                    FilterValue::Text("Home".into())
                ))
            )
        );
        assert_eq!(
            user_filter("active eq false").unwrap(),
            Filter::Compare(UserAttr::Active, Eq, FilterValue::Bool(false))
        );
        assert_eq!(
            user_filter(r#"addresses[country eq "de"]"#).unwrap(),
            Filter::AnyValue(
                "addresses",
                Box::new(Filter::Compare(
                    UserAttr::CountryCode,
                    Eq,
                    FilterValue::Text("de".into())
                ))
            )
        );
        assert_eq!(
            user_filter(r#"id eq "not-a-uuid""#).unwrap(),
            Filter::Constant(false)
        );
        assert_eq!(
            user_filter("externalId eq null").unwrap(),
            Filter::not(Filter::Present(UserAttr::ExternalId))
        );
        assert!(matches!(
            user_filter(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#).unwrap(),
            Filter::Compare(UserAttr::LastModified, Gt, FilterValue::Time(_))
        ));
    }

    #[test]
    fn unknown_attributes_and_mistyped_values_are_refused() {
        for bad in [
            r#"favouriteColour eq "bob""#,
            r#"name.middleName eq "x""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:boss eq "x""#,
            "active eq \"maybe\"",
            r#"id co "abc""#,
            r#"meta.created co "2026""#,
            r#"meta.created gt "yesterday""#,
            r#"emails[value eq "a" and type[value eq "b"]]"#,
            r#"emails[name.givenName eq "x"]"#,
            "userName eq 5",
        ] {
            assert!(user_filter(bad).is_err(), "{bad:?} resolved");
        }
        assert!(group_filter(r#"userName eq "x""#).is_err());
    }

    #[test]
    fn group_filters_resolve_names_case_insensitively_and_members_by_id() {
        assert_eq!(
            group_filter(r#"displayName eq "Admins""#).unwrap(),
            Filter::Compare(GroupAttr::Name, Eq, FilterValue::Text("Admins".into()))
        );
        let id = uuid::Uuid::now_v7();
        assert_eq!(
            group_filter(&format!("members[value eq \"{id}\"]")).unwrap(),
            Filter::Compare(GroupAttr::MemberId, Eq, FilterValue::Id(id))
        );
    }

    #[test]
    fn patch_paths_read_value_filters_and_sub_attributes() {
        let p = PatchPath::parse(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr, path("emails"));
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert!(p.filter.is_some());
        let id = uuid::Uuid::now_v7();
        let p = PatchPath::parse(&format!("members[value eq \"{id}\"]")).unwrap();
        assert_eq!(member_ids(p.filter.as_ref().unwrap()).unwrap(), vec![id]);
        assert!(PatchPath::parse("members[value eq \"x\"").is_err());
        assert!(PatchPath::parse("members[value eq \"x\"]value").is_err());
    }

    /// `levels` nested `not (…)` around an or-chain of `width` conditions.
    fn nested(levels: usize, width: usize, leaf: &str) -> String {
        let chain = vec![leaf; width].join(" or ");
        format!("{}{chain}{}", "not (".repeat(levels), ")".repeat(levels))
    }

    #[test]
    fn filters_beyond_the_declared_limits_are_refused_naming_the_limit() {
        let deep = format!("{}userName pr{}", "(".repeat(1500), ")".repeat(1500));
        let error = parse(&deep).unwrap_err();
        assert!(error.0.contains(&MAX_FILTER_DEPTH.to_string()), "{error:?}");
        let wide = vec!["userName pr"; 5000].join(" and ");
        let error = parse(&wide).unwrap_err();
        assert!(
            error.0.contains(&MAX_FILTER_LENGTH.to_string()),
            "{error:?}"
        );
        let error = parse(&vec!["id pr"; MAX_FILTER_TERMS + 1].join(" or ")).unwrap_err();
        assert!(error.0.contains(&MAX_FILTER_TERMS.to_string()), "{error:?}");
        let error = parse(&nested(MAX_FILTER_DEPTH + 1, 1, "id pr")).unwrap_err();
        assert!(error.0.contains(&MAX_FILTER_DEPTH.to_string()), "{error:?}");
        let brackets = format!("emails{}", "[".repeat(1500));
        assert!(parse(&brackets).is_err());
        let long_path = format!("members[value eq \"{}\"]", "x".repeat(MAX_PATH_LENGTH));
        let error = PatchPath::parse(&long_path).unwrap_err();
        assert!(error.0.contains(&MAX_PATH_LENGTH.to_string()), "{error:?}");
        let deep_path = format!(
            "emails[{}value pr{}]",
            "(".repeat(MAX_FILTER_DEPTH + 1),
            ")".repeat(MAX_FILTER_DEPTH + 1)
        );
        assert!(PatchPath::parse(&deep_path).is_err());
    }

    #[test]
    fn filters_at_the_declared_limits_are_read() {
        assert!(user_filter(&nested(MAX_FILTER_DEPTH, MAX_FILTER_TERMS, "id pr")).is_ok());
        let paths = format!(
            "emails[{}value pr{}]",
            "(".repeat(MAX_FILTER_DEPTH),
            ")".repeat(MAX_FILTER_DEPTH)
        );
        assert!(PatchPath::parse(&paths).is_ok());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use super::{nested, resource_filters, user_filter};
        use crate::domain::TenantId;
        use crate::store::Store;

        /// Conditions on users: every kind of attribute and value, and some that
        /// are refused (an unknown attribute, a mistyped value).
        fn user_condition() -> impl Strategy<Value = String> {
            let text =
                "[a-zA-Z0-9@. é\"\\\\]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap());
            let op =
                prop::sample::select(vec!["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
            let attr = prop::sample::select(vec![
                "userName",
                "emails",
                "emails.value",
                "emails.type",
                "name.givenName",
                "name.familyName",
                "externalId",
                "phoneNumbers.value",
                "addresses.country",
                "roles",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
                "meta.resourceType",
                "title",
            ]);
            let compared = (attr, op, text).prop_map(|(a, o, v)| format!("{a} {o} {v}"));
            let fixed = prop::sample::select(vec![
                "active eq true".to_owned(),
                "active ne false".to_owned(),
                "active eq \"maybe\"".to_owned(),
                "externalId eq null".to_owned(),
                "phoneNumbers pr".to_owned(),
                "meta.created gt \"2026-01-01T00:00:00Z\"".to_owned(),
                "meta.lastModified le \"2026-01-01T00:00:00.123Z\"".to_owned(),
                format!("id eq \"{}\"", uuid::Uuid::nil()),
                format!("groups eq \"{}\"", uuid::Uuid::nil()),
                format!("groups.value ne \"{}\"", uuid::Uuid::nil()),
                "emails[type eq \"work\" and value ew \"@x.co\"]".to_owned(),
                "addresses[country eq \"de\" or not (type eq \"home\")]".to_owned(),
                "userName eq 5".to_owned(),
            ]);
            prop_oneof![compared, fixed]
        }

        /// Filters built from conditions with and, or, not and parentheses.
        fn user_filter_text() -> impl Strategy<Value = String> {
            user_condition().prop_recursive(6, 48, 4, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("{l} and {r}")),
                    (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("{l} OR {r}")),
                    inner.clone().prop_map(|f| format!("not ({f})")),
                    inner.prop_map(|f| format!("({f})")),
                ]
            })
        }

        /// Text made of the grammar's own pieces, mostly malformed.
        fn filter_like_text() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "(",
                ")",
                "[",
                "]",
                "\"",
                "\\",
                " ",
                "and",
                "or",
                "not",
                "pr",
                "eq",
                "co",
                "userName",
                "emails",
                ".",
                ":",
                "value",
                "\"a\"",
                "true",
                "null",
                "1e9",
                "urn:ietf:params:scim:schemas:core:2.0:User:",
                "é",
            ]);
            prop::collection::vec(piece, 0..400).prop_map(|pieces| pieces.concat())
        }

        /// An in-memory SQLite store with the schema, one per test thread.
        fn with_store(check: impl FnOnce(&tokio::runtime::Runtime, &Store)) {
            thread_local! {
                static STORE: (tokio::runtime::Runtime, Store) = {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let store = runtime.block_on(async {
                        let store = Store::connect("sqlite::memory:", &Default::default())
                            .await
                            .unwrap();
                        store.migrate().await.unwrap();
                        store
                    });
                    (runtime, store)
                };
            }
            STORE.with(|(runtime, store)| check(runtime, store));
        }

        /// Every reading of `text` answers Ok or a FilterError, never a panic, and
        /// every filter read runs on SQLite through the store's own statements.
        fn read_and_run(runtime: &tokio::runtime::Runtime, store: &Store, text: &str) {
            let tenant = TenantId::generate();
            let _ = PatchPath::parse(text);
            let _ = PatchPath::parse(&format!("emails[{text}].value"));
            if let Ok(filter) = user_filter(text) {
                runtime.block_on(async {
                    store.count_users(tenant, &filter).await.unwrap();
                    let query = crate::domain::UserQuery::page(
                        filter,
                        crate::domain::Window::Numbered {
                            offset: 0,
                            count: 10,
                            total: false,
                        },
                    );
                    store.list_users(tenant, &query).await.unwrap();
                });
            }
            if let Ok(filter) = group_filter(text) {
                runtime
                    .block_on(store.count_groups_matching(tenant, &filter))
                    .unwrap();
            }
            if let Ok((users, groups)) = resource_filters(text) {
                runtime.block_on(async {
                    store.count_users(tenant, &users).await.unwrap();
                    store.count_groups_matching(tenant, &groups).await.unwrap();
                });
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

            #[test]
            fn any_text_reads_as_a_filter_or_an_error(text in any::<String>()) {
                let _ = parse(&text);
                let _ = user_filter(&text);
                let _ = PatchPath::parse(&text);
            }

            #[test]
            fn grammar_like_text_never_panics_and_what_is_read_runs(text in filter_like_text()) {
                with_store(|runtime, store| read_and_run(runtime, store, &text));
            }

            #[test]
            fn generated_filters_run_on_sqlite(text in user_filter_text()) {
                with_store(|runtime, store| read_and_run(runtime, store, &text));
            }

            #[test]
            fn nesting_and_width_are_accepted_exactly_within_the_limits(
                levels in 0..(MAX_FILTER_DEPTH + 8),
                width in 1..(MAX_FILTER_TERMS + 40),
                leaf in user_condition().prop_filter("one condition", |l| !l.contains('[')),
            ) {
                let text = nested(levels, width, &leaf);
                let read = parse(&text);
                let within = levels <= MAX_FILTER_DEPTH
                    && width <= MAX_FILTER_TERMS
                    && text.len() <= MAX_FILTER_LENGTH;
                prop_assert_eq!(read.is_ok(), within, "{}", text);
                with_store(|runtime, store| read_and_run(runtime, store, &text));
            }
        }

        /// The filter whose SQL nests deepest: every level's chain holds the next
        /// level as its first operand, so SQLite's left-deep operator trees stack.
        #[test]
        fn the_deepest_and_widest_accepted_filters_run_on_sqlite() {
            with_store(deepest_and_widest);
        }

        fn deepest_and_widest(runtime: &tokio::runtime::Runtime, store: &Store) {
            let per_level = MAX_FILTER_TERMS / MAX_FILTER_DEPTH;
            let leaf = "name.familyName ew \"x\"";
            let mut text = leaf.to_owned();
            for _ in 0..MAX_FILTER_DEPTH {
                let rest = vec![leaf; per_level - 1].join(" and ");
                text = format!("not ({text} and {rest})");
            }
            assert!(user_filter(&text).is_ok(), "{text}");
            read_and_run(runtime, store, &text);
            let group = format!("groups eq \"{}\"", uuid::Uuid::nil());
            // A value path is a level of its own.
            for (levels, leaf) in [
                (MAX_FILTER_DEPTH, leaf),
                (MAX_FILTER_DEPTH, group.as_str()),
                (MAX_FILTER_DEPTH - 1, "emails[value co \"a\"]"),
            ] {
                let widest = nested(levels, MAX_FILTER_TERMS, leaf);
                assert!(user_filter(&widest).is_ok(), "{widest}");
                read_and_run(runtime, store, &widest);
            }
        }
    }
}
