//! The stable names (`as_str`) of the codes a report carries are the names their JSON gives:
//! the `&'static str` matches are written out by hand, so this is what keeps them true.

use crossgate::agent::ErrorCode;
use crossgate::audit::Class;
use crossgate::policy::ProblemCode;

fn serialized(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value).expect("serializes") {
        serde_json::Value::String(name) => name,
        other => panic!("a code serializes as a string, not {other}"),
    }
}

#[test]
fn problem_codes_are_named_as_serialized() {
    for &code in ProblemCode::ALL {
        assert_eq!(code.as_str(), serialized(code), "{code:?}");
    }
}

#[test]
fn audit_classes_are_named_as_serialized() {
    for &class in Class::ALL {
        assert_eq!(class.as_str(), serialized(class), "{class:?}");
        assert_eq!(Class::parse(class.as_str()), Some(class));
    }
}

#[test]
fn agent_error_codes_are_named_as_serialized() {
    for &code in ErrorCode::ALL {
        assert_eq!(code.as_str(), serialized(code), "{code:?}");
        assert_eq!(ErrorCode::from_name(code.as_str()), Some(code));
    }
}
