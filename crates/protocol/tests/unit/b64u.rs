use openclaw_fleet_protocol::{b64u, ProtocolError};

fn reason(s: &str) -> &'static str {
    match b64u::decode(s) {
        Err(ProtocolError::Base64(r)) => r,
        other => panic!("{s:?} should be refused, got {other:?}"),
    }
}

#[test]
fn round_trips_every_length() {
    for len in 0..=64usize {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 255) as u8).collect();
        let text = b64u::encode(&bytes);
        assert!(!text.contains(['=', '+', '/']));
        assert_eq!(b64u::decode(&text).unwrap(), bytes);
    }
}

#[test]
fn url_alphabet() {
    assert_eq!(b64u::encode(&[0xfb, 0xff]), "-_8");
    assert_eq!(b64u::decode("-_8").unwrap(), [0xfb, 0xff]);
    assert_eq!(b64u::decode("").unwrap(), Vec::<u8>::new());
}

#[test]
fn refuses_padding() {
    assert_eq!(reason("QQ=="), "padding is not allowed");
    assert_eq!(reason("QQ="), "padding is not allowed");
    assert_eq!(reason("QUJD===="), "padding is not allowed");
}

#[test]
fn refuses_foreign_characters() {
    for s in ["+/8A", "QU JD", "QUJD\n", "QUJ.", "QUJ\u{e9}"] {
        assert_eq!(reason(s), "character outside the alphabet", "{s:?}");
    }
}

#[test]
fn refuses_impossible_lengths() {
    assert_eq!(reason("Q"), "impossible length");
    assert_eq!(reason("QUJDR"), "impossible length");
}

#[test]
fn refuses_non_canonical_trailing_bits() {
    assert_eq!(b64u::decode("QQ").unwrap(), b"A");
    assert_eq!(reason("QR"), "non-canonical trailing bits");
    assert_eq!(b64u::decode("QUI").unwrap(), b"AB");
    assert_eq!(reason("QUJ"), "non-canonical trailing bits");
}

#[test]
fn decode_array_checks_length() {
    let iv: [u8; 12] = b64u::decode_array("IqX-Hh_fVIJ-2NzV").unwrap();
    assert_eq!(b64u::encode(&iv), "IqX-Hh_fVIJ-2NzV");
    assert!(matches!(
        b64u::decode_array::<16>("IqX-Hh_fVIJ-2NzV"),
        Err(ProtocolError::Base64(_))
    ));
    assert!(matches!(
        b64u::decode_array::<12>("IqX-Hh_fVIJ-2NzV=="),
        Err(ProtocolError::Base64("padding is not allowed"))
    ));
}
