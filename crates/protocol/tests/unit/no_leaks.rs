//! Secret types must not implement Debug, Clone or Serialize (checked at
//! compile time), and errors must not echo the values they refuse.

use openclaw_fleet_protocol::*;
use serde_json::json;

/// Compiles only if `$t` implements none of the traits: with an impl, the
/// call below is ambiguous between two blanket impls (the technique of
/// `static_assertions::assert_not_impl_any!`).
macro_rules! assert_not_impl {
    ($t:ty: $($tr:path),+) => {
        const _: fn() = || {
            trait AmbiguousIfImpl<A> {
                fn some_item() {}
            }
            impl<T: ?Sized> AmbiguousIfImpl<()> for T {}
            $({
                #[allow(dead_code)]
                struct Invalid;
                impl<T: ?Sized + $tr> AmbiguousIfImpl<Invalid> for T {}
            })+
            let _ = <$t as AmbiguousIfImpl<_>>::some_item;
        };
    };
}

assert_not_impl!(AgentSecret: std::fmt::Debug, Clone, serde::Serialize);
assert_not_impl!(EncryptionSecret: std::fmt::Debug, Clone, serde::Serialize);
assert_not_impl!(MasterKey: std::fmt::Debug, Clone, serde::Serialize);
assert_not_impl!(WrapKey: std::fmt::Debug, Clone, serde::Serialize);
assert_not_impl!(ConfigDocument: std::fmt::Debug, Clone, serde::Serialize);
assert_not_impl!(HandshakeResponse: Clone);

#[test]
fn secret_errors_do_not_echo_input() {
    let bad = "ocf_es_SUPERSECRETVALUE_SUPERSECRETVALUE_SUPERSECRE";
    let err = EncryptionSecret::parse(bad).err().unwrap();
    assert!(!format!("{err} {err:?}").contains("SUPERSECRET"));
    let err = AgentSecret::parse("SUPERSECRETVALUE").err().unwrap();
    assert!(!format!("{err} {err:?}").contains("SUPERSECRET"));
}

#[test]
fn document_errors_do_not_echo_values() {
    let doc =
        json!({"schema": 1, "env": {"API_KEY": "sk-SUPERSECRET\n", "bad name": "sk-SUPERSECRET"}});
    let err = ConfigDocument::parse(doc.to_string().as_bytes())
        .err()
        .unwrap();
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("SUPERSECRET") && !text.contains("bad name"),
        "{text}"
    );
}

#[test]
fn envelope_errors_do_not_echo_values() {
    let env = json!({"v": 1, "alg": "A256GCM", "agent_id": "75d490bd-b9e2-44ea-a49c-ea2cf9b45726",
        "version": 1, "iv": "IqX-Hh_fVIJ-2NzV", "ct": "IvXctLMPkSiebhANTv1LFMbuTyblvcKNDKFs",
        "SUPERSECRET": "sk-SUPERSECRET"});
    let err = Envelope::parse(&env).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SUPERSECRET"));
}

#[test]
fn handshake_rejections_do_not_echo_values() {
    let body = json!({"agent_id": "SUPERSECRET", "timestamp": "SUPERSECRET", "signature": "x"});
    let err = HandshakeRequest::parse(&body).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SUPERSECRET"));
}
