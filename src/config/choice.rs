//! Keys whose value is one of a few names: one macro writes the enum, its names, its parsing
//! and its serde form from a single list.

use crate::{Error, Result};

/// A choice key's values, for messages, cycling in the dashboard, and parsing.
pub trait Choice: Sized + Copy + PartialEq + 'static {
    /// Every value, in display order.
    const ALL: &'static [Self];
    /// Their names as written in presets, in the same order.
    const NAMES: &'static [&'static str];
    /// What each means (its doc comment), in the same order.
    const HELP: &'static [&'static str];

    /// The value's name as written in presets.
    fn name(self) -> &'static str {
        let i = Self::ALL.iter().position(|v| *v == self).unwrap_or(0);
        Self::NAMES[i]
    }

    /// Parses a name; the error names the key and lists what is allowed.
    fn parse(key: &str, text: &str) -> Result<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == text)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| {
                Error::Config(format!(
                    "{key}: unknown value {text:?}; allowed: {}",
                    Self::NAMES.join(", ")
                ))
            })
    }

    /// The value after this one, wrapping around.
    fn next(self) -> Self {
        let i = Self::ALL.iter().position(|v| *v == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// Declares a choice enum: `Name { /// doc \n Variant = "name", ... }`; each value's doc
/// comment is also its help (`Choice::HELP`).
macro_rules! choice_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[doc = $vdoc:literal])+ $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[doc = $vdoc])+ $variant,)+
        }

        impl $crate::config::Choice for $name {
            const ALL: &'static [Self] = &[$($name::$variant,)+];
            const NAMES: &'static [&'static str] = &[$($text,)+];
            const HELP: &'static [&'static str] = &[$(concat!($($vdoc),+),)+];
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str($crate::config::Choice::name(*self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                <Self as $crate::config::Choice>::parse(stringify!($name), &text)
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use choice_enum;
