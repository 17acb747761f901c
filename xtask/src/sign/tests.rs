//! The signing command lines as recorded (what would run), and the signature detectors.

use std::path::Path;

use super::{backend::*, *};

fn opts(ts: Option<&str>) -> Options {
    Options { timestamp_url: ts.map(str::to_string), time: Some(1767225600), description: "Archway".into() }
}

#[test]
fn osslsigncode_pkcs12_reads_the_password_from_a_file() {
    let key = Key::Pkcs12 { file: "k.p12".into() };
    let argv = osslsigncode(
        Path::new("osslsigncode"),
        &key,
        Some(Path::new("/tmp/pw")),
        &opts(Some("http://ts.example/rfc3161")),
        Path::new("a.dll"),
        Path::new(".a.dll.signing"),
    )
    .argv();
    assert_eq!(
        argv.join(" "),
        "osslsigncode sign -pkcs12 k.p12 -readpass /tmp/pw -h sha256 -n Archway -time 1767225600 -ts http://ts.example/rfc3161 -in a.dll -out .a.dll.signing"
    );
}

#[test]
fn osslsigncode_pkcs11_names_module_key_and_certificate() {
    let key = Key::Pkcs11 {
        module: "/usr/lib/p11.so".into(),
        engine: None,
        key: "pkcs11:object=release".into(),
        cert: Cert::File("chain.pem".into()),
    };
    let argv =
        osslsigncode(Path::new("osslsigncode"), &key, None, &opts(None), Path::new("a.msi"), Path::new("b.msi")).argv();
    assert_eq!(
        argv.join(" "),
        "osslsigncode sign -pkcs11module /usr/lib/p11.so -certs chain.pem -key pkcs11:object=release -h sha256 -n Archway -time 1767225600 -in a.msi -out b.msi"
    );
    let key = Key::Pkcs11 {
        module: "p11.so".into(),
        engine: Some("engine.so".into()),
        key: "id".into(),
        cert: Cert::Token("pkcs11:object=cert".into()),
    };
    let argv =
        osslsigncode(Path::new("o"), &key, Some(Path::new("pin")), &opts(None), Path::new("a"), Path::new("b")).argv();
    assert!(
        argv.join(" ").starts_with(
            "o sign -pkcs11engine engine.so -pkcs11module p11.so -pkcs11cert pkcs11:object=cert -key id -readpass pin "
        ),
        "{argv:?}"
    );
}

#[test]
fn signtool_signs_from_a_store_with_an_rfc3161_timestamp() {
    let key = Key::Store { sha1: "0123456789abcdef0123456789abcdef01234567".into(), store: "My".into(), machine: true };
    let argv =
        signtool(Path::new("signtool.exe"), &key, &opts(Some("http://timestamp.example")), Path::new(".a.dll.signing"))
            .argv();
    assert_eq!(
        argv.join(" "),
        "signtool.exe sign /fd SHA256 /sha1 0123456789abcdef0123456789abcdef01234567 /s My /sm /d Archway /tr http://timestamp.example /td SHA256 .a.dll.signing"
    );
    assert_eq!(
        signtool_verify(Path::new("signtool.exe"), Path::new("a.dll")).argv().join(" "),
        "signtool.exe verify /pa /all a.dll"
    );
}

#[test]
fn a_password_given_by_value_is_a_private_file_that_goes_away() {
    let secret = "correct horse battery staple";
    let file = env::PasswordFile::from_value(secret).unwrap();
    let path = file.path().to_path_buf();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), secret);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let signer = Signer::new(
        Tool::Osslsigncode("osslsigncode".into()),
        Key::Pkcs12 { file: "k.p12".into() },
        Some(file),
        opts(None),
    )
    .unwrap();
    let shown = signer.command(Path::new("a.dll"), Path::new("b.dll")).to_string();
    assert!(!shown.contains(secret) && shown.contains("-readpass"), "{shown}");
    drop(signer);
    assert!(!path.exists(), "the password file outlived the signer");
}

#[test]
fn tool_and_key_must_match() {
    let store = Key::Store { sha1: "0".repeat(40), store: "My".into(), machine: false };
    let err = Signer::new(Tool::Osslsigncode("o".into()), store, None, opts(None)).err().unwrap().to_string();
    assert!(err.contains("certificate store"), "{err}");
    let err = Signer::new(Tool::Signtool("s".into()), Key::Pkcs12 { file: "k".into() }, None, opts(None))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("ARCHWAY_SIGN_CERT_SHA1"), "{err}");
}

/// A PE32+ header with `security` as data directory 4.
fn pe(security: (u32, u32)) -> Vec<u8> {
    let mut b = vec![0u8; 0x200];
    b[0..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    let optional = 0x80 + 24;
    b[optional..optional + 2].copy_from_slice(&0x20bu16.to_le_bytes());
    let dir = optional + 112 + 4 * 8;
    b[dir..dir + 4].copy_from_slice(&security.0.to_le_bytes());
    b[dir + 4..dir + 8].copy_from_slice(&security.1.to_le_bytes());
    b
}

#[test]
fn the_certificate_table_tells_a_signed_pe() {
    assert!(pe_is_signed(&pe((0x1000, 0x800))));
    assert!(!pe_is_signed(&pe((0, 0))));
    assert!(!pe_is_signed(b"MZ"));
    let mut truncated = pe((0x1000, 0x800));
    truncated.truncate(0x100);
    assert!(!pe_is_signed(&truncated));
}
