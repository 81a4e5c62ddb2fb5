//! The SCIM profile of a user on the native face: read as `profile` on every user,
//! written as `profile` on create (every attribute) and update (the attributes named;
//! `null` clears one). The names and shapes are SCIM's (docs/scim.md).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    Address, Manager, MultiValue, Profile, ProfilePatch, ProfileText, UserId, ValueList, Violations,
};

use super::nullable;

/// One value of a multi-valued attribute (SCIM's emails, phoneNumbers, ims, photos,
/// entitlements, roles, x509Certificates).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValueBody {
    value: Option<String>,
    /// A label for the value's function, such as `work` or `mobile`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// At most one value of an attribute is primary; `null` (as left out) reads as
    /// not primary.
    primary: Option<bool>,
    display: Option<String>,
}

/// A postal address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressBody {
    formatted: Option<String>,
    street_address: Option<String>,
    locality: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    primary: Option<bool>,
}

/// The user's manager: another user of the tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagerBody {
    id: UserId,
    /// The manager's displayName, else its names.
    display_name: Option<String>,
}

/// The user's SCIM profile (RFC 7643 §4.1 and the enterprise extension): what an
/// identity provider wrote, or what was set here.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    display_name: Option<String>,
    nick_name: Option<String>,
    profile_url: Option<String>,
    title: Option<String>,
    user_type: Option<String>,
    preferred_language: Option<String>,
    locale: Option<String>,
    timezone: Option<String>,
    formatted_name: Option<String>,
    middle_name: Option<String>,
    honorific_prefix: Option<String>,
    honorific_suffix: Option<String>,
    /// The primary (else the first) is the user's `email`.
    emails: Vec<ValueBody>,
    phone_numbers: Vec<ValueBody>,
    ims: Vec<ValueBody>,
    photos: Vec<ValueBody>,
    addresses: Vec<AddressBody>,
    entitlements: Vec<ValueBody>,
    /// A value `admin` (any case) makes the user's `role` admin.
    roles: Vec<ValueBody>,
    x509_certificates: Vec<ValueBody>,
    employee_number: Option<String>,
    cost_center: Option<String>,
    organization: Option<String>,
    division: Option<String>,
    department: Option<String>,
    manager: Option<ManagerBody>,
}

fn value_body(value: MultiValue) -> ValueBody {
    ValueBody {
        value: value.value,
        kind: value.kind,
        primary: value.primary,
        display: value.display,
    }
}

fn values(values: Vec<MultiValue>) -> Vec<ValueBody> {
    values.into_iter().map(value_body).collect()
}

fn multi_values(values: Vec<ValueBody>) -> Vec<MultiValue> {
    values
        .into_iter()
        .map(|v| MultiValue {
            value: v.value,
            kind: v.kind,
            primary: v.primary,
            display: v.display,
        })
        .collect()
}

fn addresses(addresses: Vec<AddressBody>) -> Vec<Address> {
    addresses
        .into_iter()
        .map(|a| Address {
            formatted: a.formatted,
            street_address: a.street_address,
            locality: a.locality,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
            kind: a.kind,
            primary: a.primary,
        })
        .collect()
}

impl From<Profile> for ProfileBody {
    fn from(p: Profile) -> Self {
        Self {
            display_name: p.display_name,
            nick_name: p.nick_name,
            profile_url: p.profile_url,
            title: p.title,
            user_type: p.user_type,
            preferred_language: p.preferred_language,
            locale: p.locale,
            timezone: p.timezone,
            formatted_name: p.name.formatted,
            middle_name: p.name.middle_name,
            honorific_prefix: p.name.honorific_prefix,
            honorific_suffix: p.name.honorific_suffix,
            emails: values(p.emails),
            phone_numbers: values(p.phone_numbers),
            ims: values(p.ims),
            photos: values(p.photos),
            addresses: p
                .addresses
                .into_iter()
                .map(|a| AddressBody {
                    formatted: a.formatted,
                    street_address: a.street_address,
                    locality: a.locality,
                    region: a.region,
                    postal_code: a.postal_code,
                    country: a.country,
                    kind: a.kind,
                    primary: a.primary,
                })
                .collect(),
            entitlements: values(p.entitlements),
            roles: values(p.roles),
            x509_certificates: values(p.x509_certificates),
            employee_number: p.enterprise.employee_number,
            cost_center: p.enterprise.cost_center,
            organization: p.enterprise.organization,
            division: p.enterprise.division,
            department: p.enterprise.department,
            manager: p.enterprise.manager.map(ManagerBody::from),
        }
    }
}

/// Changes to the profile: each attribute named is set, `null` clears it (a list
/// `null` or `[]` empties it); lists are replaced whole.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileUpdate {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    nick_name: Option<Option<String>>,
    /// A URI.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    profile_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    user_type: Option<Option<String>>,
    /// A language tag or an Accept-Language list, such as `en-US`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    preferred_language: Option<Option<String>>,
    /// A language tag, such as `en-US`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    locale: Option<Option<String>>,
    /// An IANA time zone name, such as `Europe/Berlin`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    formatted_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    middle_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    honorific_prefix: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    honorific_suffix: Option<Option<String>>,
    /// The primary (else the first) becomes the user's `email`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ValueBody>>, nullable)]
    emails: Option<Option<Vec<ValueBody>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ValueBody>>, nullable)]
    phone_numbers: Option<Option<Vec<ValueBody>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ValueBody>>, nullable)]
    ims: Option<Option<Vec<ValueBody>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ValueBody>>, nullable)]
    photos: Option<Option<Vec<ValueBody>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<AddressBody>>, nullable)]
    addresses: Option<Option<Vec<AddressBody>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ValueBody>>, nullable)]
    entitlements: Option<Option<Vec<ValueBody>>>,
    /// A value `admin` (any case) makes the user an admin.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ValueBody>>, nullable)]
    roles: Option<Option<Vec<ValueBody>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<ValueBody>>, nullable)]
    x509_certificates: Option<Option<Vec<ValueBody>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    employee_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    cost_center: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    organization: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    division: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    department: Option<Option<String>>,
    /// The id of the manager, a user of the tenant.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid, nullable)]
    manager_id: Option<Option<String>>,
}

impl ProfileUpdate {
    /// The change this update names; a manager id that is no UUID is a violation.
    pub fn into_patch(self, v: &mut Violations) -> ProfilePatch {
        let mut patch = ProfilePatch::default();
        for (text, value) in [
            (ProfileText::DisplayName, self.display_name),
            (ProfileText::NickName, self.nick_name),
            (ProfileText::ProfileUrl, self.profile_url),
            (ProfileText::Title, self.title),
            (ProfileText::UserType, self.user_type),
            (ProfileText::PreferredLanguage, self.preferred_language),
            (ProfileText::Locale, self.locale),
            (ProfileText::Timezone, self.timezone),
            (ProfileText::NameFormatted, self.formatted_name),
            (ProfileText::MiddleName, self.middle_name),
            (ProfileText::HonorificPrefix, self.honorific_prefix),
            (ProfileText::HonorificSuffix, self.honorific_suffix),
            (ProfileText::EmployeeNumber, self.employee_number),
            (ProfileText::CostCenter, self.cost_center),
            (ProfileText::Organization, self.organization),
            (ProfileText::Division, self.division),
            (ProfileText::Department, self.department),
        ] {
            if let Some(value) = value {
                patch.texts.push((text, value));
            }
        }
        for (list, value) in [
            (ValueList::Emails, self.emails),
            (ValueList::PhoneNumbers, self.phone_numbers),
            (ValueList::Ims, self.ims),
            (ValueList::Photos, self.photos),
            (ValueList::Entitlements, self.entitlements),
            (ValueList::Roles, self.roles),
            (ValueList::X509Certificates, self.x509_certificates),
        ] {
            if let Some(value) = value {
                patch
                    .lists
                    .push((list, multi_values(value.unwrap_or_default())));
            }
        }
        patch.addresses = self.addresses.map(|a| addresses(a.unwrap_or_default()));
        patch.manager = match self.manager_id {
            None => None,
            Some(None) => Some(None),
            Some(Some(id)) => v.check("profile.managerId", UserId::parse(&id)).map(Some),
        };
        patch
    }

    /// The profile of a new user: the attributes given, the rest absent.
    pub fn into_profile(self, v: &mut Violations) -> Profile {
        let mut profile = Profile::default();
        self.into_patch(v).apply_to(&mut profile);
        profile
    }
}

impl From<Manager> for ManagerBody {
    fn from(m: Manager) -> Self {
        Self {
            id: m.id,
            display_name: m.display_name,
        }
    }
}
