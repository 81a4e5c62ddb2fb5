//! CSV: a header line naming the columns, then one user per record
//! (docs/import-formats.md lists the columns). Cells are read as the native API's
//! create body reads its fields ([`NewUserFields`]); an empty cell is a field not
//! given. Records are read one at a time, so memory stays flat whatever the size.

use std::io::{BufRead, Read};

use csv::ByteRecord;
use serde_json::Value;

use crate::domain::{AttributeWrite, GroupName, NewUserFields, Record, UserRecord, Violations};

use super::{Line, ReadError, ReadOptions, refused};

/// A column the header may name (in any letter case), besides `attr:<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Email,
    UserName,
    FirstName,
    LastName,
    DisplayName,
    Title,
    Phone,
    Company,
    CountryCode,
    Department,
    EmployeeNumber,
    Role,
    Status,
    ExternalId,
    Password,
    PasswordHash,
    Groups,
    DefaultGroup,
}

const COLUMNS: [(Column, &str); 18] = [
    (Column::Email, "email"),
    (Column::UserName, "userName"),
    (Column::FirstName, "firstName"),
    (Column::LastName, "lastName"),
    (Column::DisplayName, "displayName"),
    (Column::Title, "title"),
    (Column::Phone, "phone"),
    (Column::Company, "company"),
    (Column::CountryCode, "countryCode"),
    (Column::Department, "department"),
    (Column::EmployeeNumber, "employeeNumber"),
    (Column::Role, "role"),
    (Column::Status, "status"),
    (Column::ExternalId, "externalId"),
    (Column::Password, "password"),
    (Column::PasswordHash, "passwordHash"),
    (Column::Groups, "groups"),
    (Column::DefaultGroup, "defaultGroup"),
];

/// The prefix of a column holding a tenant-declared attribute.
const ATTRIBUTE_PREFIX: &str = "attr:";

/// What a header cell names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Heading {
    Known(Column),
    /// A declared attribute, by the name after `attr:`.
    Attribute(String),
}

impl Heading {
    /// The field a refusal of this column's cell names.
    fn field(&self) -> String {
        match self {
            Heading::Known(column) => name_of(*column).to_owned(),
            Heading::Attribute(name) => crate::domain::attribute_field(name),
        }
    }
}

fn name_of(column: Column) -> &'static str {
    COLUMNS
        .iter()
        .find(|(c, _)| *c == column)
        .map_or("", |(_, name)| name)
}

/// The UTF-8 byte order mark some spreadsheets write first.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The longest record read, quoted newlines included: an unclosed quote must not
/// make the rest of a large file one record in memory.
const MAX_RECORD_BYTES: u64 = 1 << 20;

pub(super) fn read(
    input: &mut dyn BufRead,
    options: &ReadOptions,
    emit: &mut dyn FnMut(Line) -> bool,
) -> Result<(), ReadError> {
    if input.fill_buf()?.starts_with(BOM) {
        input.consume(BOM.len());
    }
    let mut records = Records {
        input,
        line: 0,
        text: Vec::new(),
    };
    let Some((_, header)) = records.next()? else {
        return Err(ReadError::Format(
            "the input is empty: a CSV import starts with a header line naming its columns".into(),
        ));
    };
    let headings = headings(&header)?;
    while let Some((line, record)) = records.next()? {
        let result = if record.len() == headings.len() {
            user(&headings, &record, options)
        } else {
            Err(refused(
                "record",
                format!(
                    "has {} cells where the header names {} columns",
                    record.len(),
                    headings.len()
                ),
            ))
        };
        if !emit((line, result)) {
            break;
        }
    }
    Ok(())
}

/// The input's records with the line each starts on. The csv crate's positions
/// count a CRLF's line feed, and skipped blank lines, into the next record, so the
/// lines are counted here: a record is the physical lines read until its quotes
/// balance (RFC 4180 doubles a quote inside a quoted field), then parsed by the
/// csv crate.
struct Records<'a> {
    input: &'a mut dyn BufRead,
    /// The physical lines read so far.
    line: u64,
    text: Vec<u8>,
}

impl Records<'_> {
    fn next(&mut self) -> Result<Option<(u64, ByteRecord)>, ReadError> {
        loop {
            self.text.clear();
            let start = self.line + 1;
            let mut quotes = 0usize;
            loop {
                let from = self.text.len();
                let room = MAX_RECORD_BYTES.saturating_sub(from as u64) + 1;
                let read = (&mut *self.input)
                    .take(room)
                    .read_until(b'\n', &mut self.text)?;
                if read == 0 {
                    break;
                }
                if self.text.len() as u64 > MAX_RECORD_BYTES {
                    return Err(ReadError::Format(format!(
                        "the record from line {start} runs past {MAX_RECORD_BYTES} bytes: \
                         is a quote left open?"
                    )));
                }
                if self.text.ends_with(b"\n") {
                    self.line += 1;
                }
                quotes += self.text[from..].iter().filter(|b| **b == b'"').count();
                if quotes.is_multiple_of(2) {
                    break;
                }
            }
            if self.text.is_empty() {
                return Ok(None);
            }
            if self.text.iter().all(|b| *b == b'\r' || *b == b'\n') {
                continue;
            }
            let mut record = ByteRecord::new();
            csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(self.text.as_slice())
                .read_byte_record(&mut record)
                .map_err(|e| ReadError::Format(format!("line {start} is not CSV: {e}")))?;
            return Ok(Some((start, record)));
        }
    }
}

/// The header's columns; unknown, repeated or missing required ones refuse the file.
fn headings(header: &ByteRecord) -> Result<Vec<Heading>, ReadError> {
    let mut headings = Vec::with_capacity(header.len());
    let mut unknown = Vec::new();
    for cell in header {
        let text = String::from_utf8_lossy(cell);
        let text = text.trim();
        let known = COLUMNS
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(text));
        let heading = match known {
            Some((column, _)) => Heading::Known(*column),
            None => match text.get(..ATTRIBUTE_PREFIX.len()) {
                Some(prefix)
                    if prefix.eq_ignore_ascii_case(ATTRIBUTE_PREFIX)
                        && text.len() > ATTRIBUTE_PREFIX.len() =>
                {
                    Heading::Attribute(text[ATTRIBUTE_PREFIX.len()..].to_owned())
                }
                _ => {
                    unknown.push(format!("\"{text}\""));
                    continue;
                }
            },
        };
        if headings.contains(&heading) {
            return Err(ReadError::Format(format!(
                "the header names the column {} twice",
                heading.field()
            )));
        }
        headings.push(heading);
    }
    if !unknown.is_empty() {
        let known: Vec<&str> = COLUMNS.iter().map(|(_, name)| *name).collect();
        return Err(ReadError::Format(format!(
            "the header names unknown columns: {}; the columns are {} and attr:<name> \
             for a declared attribute, in any letter case",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    if !headings.contains(&Heading::Known(Column::Email)) {
        return Err(ReadError::Format(
            "the header names no email column, and every user has an email address".into(),
        ));
    }
    Ok(headings)
}

/// The user one record makes, or every bad cell.
fn user(
    headings: &[Heading],
    record: &ByteRecord,
    options: &ReadOptions,
) -> Result<Record, Vec<crate::domain::FieldViolation>> {
    let mut found = Violations::new();
    let mut fields = NewUserFields::default();
    let mut attributes = Vec::new();
    let mut groups: Vec<GroupName> = Vec::new();
    let mut default_group = None;
    for (heading, cell) in headings.iter().zip(record) {
        if cell.is_empty() {
            continue;
        }
        let Ok(text) = std::str::from_utf8(cell) else {
            found.add(&heading.field(), "is not UTF-8 text");
            continue;
        };
        let text = text.to_owned();
        let column = match heading {
            Heading::Attribute(name) => {
                attributes.push((name.clone(), Value::String(text)));
                continue;
            }
            Heading::Known(column) => *column,
        };
        match column {
            Column::Email => fields.email = text,
            Column::UserName => fields.user_name = Some(text),
            Column::FirstName => fields.first_name = text,
            Column::LastName => fields.last_name = text,
            Column::DisplayName => fields.profile.display_name = Some(text),
            Column::Title => fields.profile.title = Some(text),
            Column::Phone => fields.phone = Some(text),
            Column::Company => fields.company = Some(text),
            Column::CountryCode => fields.country_code = Some(text),
            Column::Department => fields.profile.enterprise.department = Some(text),
            Column::EmployeeNumber => fields.profile.enterprise.employee_number = Some(text),
            Column::Role => fields.role = Some(text),
            Column::Status => fields.status = Some(text),
            Column::ExternalId => fields.external_id = Some(text),
            Column::Password => fields.password = Some(text),
            Column::PasswordHash => fields.password_hash = Some(text),
            Column::Groups => {
                for name in text.split(';').map(str::trim).filter(|n| !n.is_empty()) {
                    if let Some(name) = found.check("groups", GroupName::parse(name)) {
                        add_group(&mut groups, name);
                    }
                }
            }
            Column::DefaultGroup => {
                default_group = found.check("defaultGroup", GroupName::parse(text));
            }
        }
    }
    // The default group is one of the user's groups, as setting it makes it one.
    if let Some(name) = &default_group {
        add_group(&mut groups, name.clone());
    }
    fields.attributes = AttributeWrite::Merge(attributes);
    let user = fields.parse(&options.policy, found)?;
    Ok(Record::User(Box::new(UserRecord {
        id: None,
        source_id: None,
        user,
        created_at: None,
        groups,
        default_group,
    })))
}

/// Adds `name` unless a group of the same name (in any letter case) is there.
fn add_group(groups: &mut Vec<GroupName>, name: GroupName) {
    if !groups.iter().any(|g| g.key() == name.key()) {
        groups.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FieldViolation, Role, Status};

    const FIXTURE: &str = include_str!("../../tests/fixtures/import/users.csv");

    fn read_all(input: &str) -> Result<Vec<Line>, ReadError> {
        crate::transfer::read_all(crate::transfer::Format::Csv, input)
    }

    fn user_of(line: &Line) -> &UserRecord {
        match &line.1 {
            Ok(Record::User(user)) => user,
            other => panic!("line {} is not a user: {other:?}", line.0),
        }
    }

    fn refusal_of(line: &Line) -> &[FieldViolation] {
        match &line.1 {
            Err(violations) => violations,
            Ok(record) => panic!("line {} was read: {record:?}", line.0),
        }
    }

    fn fields(violations: &[FieldViolation]) -> Vec<&str> {
        violations.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn the_fixture_reads_users_with_quoting_newlines_and_a_bom() {
        assert!(FIXTURE.as_bytes().starts_with(BOM));
        let lines = read_all(FIXTURE).unwrap();
        let numbers: Vec<u64> = lines.iter().map(|l| l.0).collect();
        // The second user's address spans lines 3 and 4.
        assert_eq!(numbers, [2, 3, 5, 6, 7]);

        let ada = user_of(&lines[0]);
        assert_eq!(ada.user.email.as_str(), "ada@example.com");
        assert_eq!(ada.user.user_name.as_ref().unwrap().as_str(), "ada");
        assert_eq!(ada.user.first_name.as_str(), "Ada");
        assert_eq!(ada.user.last_name.as_str(), "Lovelace, Countess");
        assert_eq!(ada.user.role, Role::Admin);
        assert_eq!(ada.user.status, Status::Active);
        assert_eq!(ada.user.profile.work_phone(), Some("+44 20 7946 0000"));
        assert_eq!(ada.user.profile.work_country(), Some("GB"));
        assert_eq!(
            ada.user.profile.enterprise.organization.as_deref(),
            Some("Analytical \"Engines\" Ltd")
        );
        assert_eq!(
            ada.user.profile.enterprise.department.as_deref(),
            Some("Research")
        );
        assert_eq!(
            ada.user.profile.enterprise.employee_number.as_deref(),
            Some("1815")
        );
        assert_eq!(ada.user.profile.title.as_deref(), Some("Countess"));
        assert_eq!(ada.user.external_id.as_ref().unwrap().as_str(), "emp-1815");
        assert!(ada.user.password_hash.is_some());
        let groups: Vec<&str> = ada.groups.iter().map(GroupName::as_str).collect();
        assert_eq!(groups, ["Engineering", "Research", "Staff"]);
        assert_eq!(ada.default_group.as_ref().unwrap().as_str(), "Staff");
        match &ada.user.attributes {
            AttributeWrite::Merge(named) => {
                assert_eq!(named, &[("costCode".to_owned(), "C-42".into())]);
            }
            other => panic!("{other:?}"),
        }

        let grace = user_of(&lines[1]);
        assert_eq!(grace.user.email.as_str(), "grace@example.com");
        assert_eq!(
            grace.user.profile.display_name.as_deref(),
            Some("Grace Hopper\nRear Admiral")
        );
        assert_eq!(grace.user.role, Role::Member);
        assert_eq!(grace.user.status, Status::Disabled);
        assert!(grace.user.password.is_some());
        assert!(grace.groups.is_empty());

        // Only an email: the rest is not given.
        let min = user_of(&lines[3]);
        assert_eq!(min.user.email.as_str(), "min@example.com");
        assert!(min.user.user_name.is_none() && min.user.first_name.as_str().is_empty());
        assert_eq!(min.user.attributes, AttributeWrite::Merge(Vec::new()));
    }

    #[test]
    fn a_bad_row_is_refused_with_its_fields_and_line_and_reading_goes_on() {
        let lines = read_all(FIXTURE).unwrap();
        let bad = refusal_of(&lines[2]);
        assert_eq!(lines[2].0, 5);
        assert_eq!(
            fields(bad),
            ["email", "countryCode", "role", "passwordHash"],
            "{bad:?}"
        );
        // The hash refused is never repeated.
        assert!(bad.iter().all(|v| !v.reason.contains("not-a-hash")));
        let short = refusal_of(&lines[4]);
        assert_eq!(lines[4].0, 7);
        assert_eq!(fields(short), ["record"]);
    }

    #[test]
    fn columns_are_matched_in_any_case_and_unknown_ones_refuse_the_file() {
        let lines = read_all("EMAIL,FirstName,ATTR:level\nx@example.com,X,3\n").unwrap();
        let x = user_of(&lines[0]);
        assert_eq!(x.user.first_name.as_str(), "X");
        assert_eq!(
            x.user.attributes,
            AttributeWrite::Merge(vec![("level".into(), "3".into())])
        );
        let Err(ReadError::Format(message)) = read_all("email,nickname,shoe size\n") else {
            panic!("unknown columns were accepted");
        };
        assert!(message.contains("\"nickname\", \"shoe size\""), "{message}");
        for header in ["firstName\n", "email,Email\n", ""] {
            assert!(
                matches!(read_all(header), Err(ReadError::Format(_))),
                "{header:?}"
            );
        }
    }

    #[test]
    fn lines_are_counted_whatever_the_line_ends_and_blank_lines_between() {
        for input in [
            "email\na@example.com\n\n\"b@\nexample.com\"\nc@example.com\n",
            "email\r\na@example.com\r\n\r\n\"b@\r\nexample.com\"\r\nc@example.com",
        ] {
            let numbers: Vec<u64> = read_all(input).unwrap().iter().map(|l| l.0).collect();
            assert_eq!(numbers, [2, 4, 6], "{input:?}");
        }
    }

    #[test]
    fn a_weak_password_and_both_password_forms_are_refused() {
        let lines = read_all(
            "email,password,passwordHash\n\
             a@example.com,password,\n\
             b@example.com,correct horse battery,$2b$10$mRVfrAf72N66anVNhA1KVuYaOwOrXhFzxyg6bwgZemUeVo2MNOpIa\n",
        )
        .unwrap();
        assert_eq!(fields(refusal_of(&lines[0])), ["password"]);
        assert_eq!(fields(refusal_of(&lines[1])), ["passwordHash"]);
    }

    #[test]
    fn reading_stops_when_the_importer_stops() {
        let mut seen = 0;
        let options = ReadOptions::default();
        read(&mut FIXTURE.as_bytes(), &options, &mut |_| {
            seen += 1;
            false
        })
        .unwrap();
        assert_eq!(seen, 1);
    }
}
