//! The code enums that reports carry (`ProblemCode`, `audit::Class`, `agent::ErrorCode`): each
//! variant is written once, with its stable name, and the list of every code and the
//! `&'static str` name come from that one declaration.

/// Declares a fieldless enum whose variants each carry their stable name (`Variant = "name"`),
/// and adds `ALL` (every variant, in declaration order) and `as_str` (the name). The names are
/// the enum's JSON names; `tests/names.rs` holds them equal to what `serde` writes.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every code, in the order of the declaration.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name, as JSON writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }
    };
}

pub(crate) use code_enum;
