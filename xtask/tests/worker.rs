//! The worker stand-in (`tests/worker`, a program that plays w3wp.exe) at the protocol level:
//! raw `TcpStream`s so the HTTP framing is checked byte for byte, the diagnostics handler and
//! the test probe module (`tests/probe`) behind it, IIS's load-failure events, config errors
//! naming file and line, and the graceful stop on end of input. What the built shims answer
//! through it is `shims.rs`.
//!
//! On Linux the programs run under Wine with their own prefix: x64 always, x86 too with
//! ARCHWAY_WINE32=1. On Windows they run directly (ARCHWAY_RUN_NATIVELY lists the
//! architectures). Every child has a deadline and `-max-seconds`, so a hung Wine cannot hang
//! the suite (`support/worker.rs`).

mod support;

use std::{
    io::{BufReader, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use serde_json::Value;
use support::{worker::*, *};

/// The runnable architectures, plus arm64 (whose DLLs are the wrong machine for them), built
/// once in a copy of the checkout.
fn built() -> Option<PathBuf> {
    static BUILT: SharedBuild = OnceLock::new();
    let mut archs = runnable();
    if !archs.iter().any(|a| a == "arm64") {
        archs.push("arm64".to_string());
    }
    built_once(&BUILT, &["--arch", &archs.join(",")]).map(bin_dir)
}

#[test]
fn keep_alive_serves_the_diagnostics_handler_and_stdin_eof_stops_the_worker() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    for arch in runnable() {
        let pool = format!("pool-{arch}");
        let (_dir, worker) = start_with_image(launcher, &bin, &arch, &pool, &format!("archway_{arch}.dll"));
        let out = worker.stdout();
        let dll = windows_path(&bin.join(format!("archway_{arch}.dll")));
        assert!(out.contains(&format!("archway_worker: module archway loaded from {dll}\n")), "{out}");
        let listening = out.lines().find(|l| l.starts_with("archway_worker: listening ")).unwrap();
        assert!(
            listening.starts_with(&format!(
                "archway_worker: listening pool={pool} site=site-{pool} address=127.0.0.1:{} pid=",
                worker.port
            )),
            "{listening}"
        );
        assert!(listening.ends_with(&format!(" machine={arch}")), "{listening}");

        let mut stream = worker.connect();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        for (i, path) in ["/first?a=1", "/second/%7Euser"].iter().enumerate() {
            let r = exchange(&mut stream, &mut reader, &get(path));
            assert_eq!(r.status, 200, "request {i}: {}\n{}", r.text(), worker.stderr());
            assert_eq!(r.header("Content-Type"), Some("application/json"));
            assert_eq!(r.header("Server"), Some("archway-worker"));
            assert!(r.header("Connection").is_none(), "HTTP/1.1 keeps the connection: {:?}", r.headers);
            assert!(r.header("Date").is_none(), "deterministic headers only");
            let json: Value = serde_json::from_slice(&r.body).expect("JSON");
            let url = if i == 0 { "/first" } else { "/second/~user" };
            assert_eq!(json["request"]["url"], url, "{json}");
            assert_eq!(json["request"]["method"], "GET");
            assert_eq!(json["request"]["app_pool"], pool.as_str());
            assert_eq!(json["shim"]["arch"], arch.as_str());
            // x64 and ARM64EC code run in an x64 process.
            let process = match arch.as_str() {
                "x86" | "arm64" => arch.as_str(),
                _ => "x64",
            };
            assert_eq!(json["process"]["machine"], process, "{json}");
        }
        // HEAD: the same headers, no body; the connection still works afterwards.
        let r = exchange(&mut stream, &mut reader, b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.status, 200);
        assert!(r.header("Content-Length").is_some(), "{:?}", r.headers);
        let r = exchange(&mut stream, &mut reader, &get("/after-head"));
        assert_eq!(r.status, 200);

        let ended = worker.stop();
        assert_eq!(ended.code, Some(0), "{arch}: exit after stdin EOF\n{}{}", ended.stdout, ended.stderr);
        assert!(ended.stdout.ends_with("archway_worker: ready\narchway_worker: stopped\n"), "{}", ended.stdout);
        assert!(ended.stderr.contains("archway_worker: GET /first?a=1 -> 200 ("), "{}", ended.stderr);
    }
}

#[test]
fn several_connections_are_served_at_once() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let (_dir, worker) = start_with_image(launcher, &bin, "x64", "concurrent", "archway_x64.dll");
    // Every client opens its connection first, so the worker holds all of them at once.
    let streams: Vec<TcpStream> = (0..6).map(|_| worker.connect()).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(c, mut stream)| {
                scope.spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    for n in 0..3 {
                        let r = exchange(&mut stream, &mut reader, &get(&format!("/c{c}/n{n}")));
                        assert_eq!(r.status, 200);
                        let json: Value = serde_json::from_slice(&r.body).unwrap();
                        assert_eq!(json["request"]["url"], format!("/c{c}/n{n}"));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a client failed");
        }
    });
    let ended = worker.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
}

#[test]
fn request_bodies_reach_the_module_and_flushed_responses_are_chunked() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let (dir, worker) = start_with_image(launcher, &bin, "x64", "probe", "archway_probe_x64.dll");
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());

    // The environment w3wp sets before loading modules; request headers by HTTP_HEADER_ID
    // (Host 28, User-Agent 40); response headers set, appended, set by id, deleted.
    let r = exchange(&mut stream, &mut reader, b"GET /env?env=APP_POOL_ID,APP_POOL_CONFIG&ids=28,40,24&ctx=1&rh=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: ua-test\r\n\r\n");
    let text = r.text();
    for line in [
        "site=7 site-probe\n".to_string(),
        "app=MACHINE/WEBROOT/APPHOST/site-probe C:\\inetpub\\probe\\\n".into(),
        format!("local=127.0.0.1:{} remote=127.0.0.1\n", worker.port),
        "env APP_POOL_ID=probe\n".to_string(),
        format!("env APP_POOL_CONFIG={}\n", config_path_of(&dir)),
        "header-id 28=example.test\n".into(),
        "header-id 40=ua-test\n".into(),
        "header-id 24=(none)\n".into(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    assert!(text.ends_with("response-header X-Probe=a, b"), "{text}");
    assert_eq!(r.header("X-Probe"), Some("a, b"));
    assert_eq!(r.header("Vary"), Some("Accept"));
    assert!(r.header("X-Gone").is_none(), "{:?}", r.headers);

    // A chunked request body (with an extension and a trailer), a response flushed in 3 pieces.
    let request = b"POST /echo?flush=3&vars=CONTENT_LENGTH,HTTP_X_TEST,REQUEST_METHOD&headers=X-Test HTTP/1.1\r\n\
Host: localhost\r\nX-Test: yes\r\nTransfer-Encoding: chunked\r\n\r\n\
6;ext=1\r\nhello \r\n8\r\nchunked \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n";
    let r = exchange(&mut stream, &mut reader, request);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.chunks.len() >= 3, "flushed 3 times, got chunks {:?}", r.chunks);
    let text = r.text();
    for line in [
        "begin=1\n",
        "method=POST\n",
        "url=/echo\n",
        "var HTTP_X_TEST=yes\n",
        "var REQUEST_METHOD=POST\n",
        "header X-Test=yes\n",
        "body-length=19\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.ends_with("body=hello chunked world"), "{text}");

    // A Content-Length body, answered whole with Content-Length.
    let r = exchange(&mut stream, &mut reader, b"PUT /len HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde");
    assert_eq!(r.header("Content-Length").map(|v| v.parse::<usize>().unwrap()), Some(r.body.len()));
    assert!(r.text().ends_with("body-length=5\nbody=abcde"), "{}", r.text());

    // A body the module never reads is discarded before the next request.
    let r = exchange(
        &mut stream,
        &mut reader,
        b"POST /nothing HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nunread body",
    );
    assert_eq!(r.status, 404, "nothing produced: IIS's static file handler would say 404");
    let r = exchange(&mut stream, &mut reader, &get("/after?vars=URL"));
    assert_eq!(r.status, 200);
    assert!(r.text().contains("var URL=/after\n"), "{}", r.text());

    // Flush with a Content-Length set by the module: no chunking.
    let r = exchange(&mut stream, &mut reader, &get("/cl?flush=2&cl=1"));
    assert!(r.chunks.is_empty() && r.header("Content-Length").is_some(), "{:?}", r.headers);

    // Notifications in IIS order and their results: FINISH in BeginRequest, PENDING then
    // PostCompletion → OnAsyncCompletion, PENDING then IndicateCompletion, a status set by the
    // module.
    assert_eq!(exchange(&mut stream, &mut reader, &get("/begin-finish")).text(), "finished in begin\n");
    assert_eq!(exchange(&mut stream, &mut reader, &get("/pending")).text(), "async completion\n");
    assert_eq!(exchange(&mut stream, &mut reader, &get("/indicate")).text(), "indicated\n");
    let r = exchange(&mut stream, &mut reader, &get("/teapot?status=418"));
    assert_eq!(r.status, 418);

    // Server variables (ANSI and wide overloads agree) and the URL as IIS decodes it.
    let vars = "vars=URL,QUERY_STRING,SERVER_PROTOCOL,SERVER_PORT,SERVER_NAME,LOCAL_ADDR,REMOTE_ADDR,REMOTE_PORT,INSTANCE_ID,APPL_MD_PATH,APPL_PHYSICAL_PATH,APP_POOL_ID,CONTENT_TYPE,ALL_RAW,NOT_A_VARIABLE";
    let r = exchange(&mut stream, &mut reader, &get(&format!("/a/./b/../c%20d?{vars}")));
    let text = r.text();
    let port = worker.port;
    for line in [
        "url=/a/c d\n".to_string(),
        format!("var QUERY_STRING={vars}\n"),
        "var SERVER_PROTOCOL=HTTP/1.1\n".into(),
        format!("var SERVER_PORT={port}\n"),
        "var LOCAL_ADDR=127.0.0.1\n".into(),
        "var REMOTE_ADDR=127.0.0.1\n".into(),
        "var INSTANCE_ID=7\n".into(),
        "var APPL_MD_PATH=/LM/W3SVC/7/ROOT\n".into(),
        "var APPL_PHYSICAL_PATH=C:\\inetpub\\probe\\\n".into(),
        "var APP_POOL_ID=probe\n".into(),
        "var CONTENT_TYPE=\n".into(),
        "var SERVER_NAME=localhost\n".into(),
        "var ALL_RAW=Host: localhost\r\n\n".into(),
        format!("var REMOTE_PORT={}\n", stream.local_addr().unwrap().port()),
        "var NOT_A_VARIABLE=(none)\n".into(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains("wide-mismatch"), "{text}");
    drop(stream);
    let ended = worker.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("archway_probe: Terminate\n"),
        "the factory's Terminate() on stop:\n{}",
        ended.stderr
    );
}

#[test]
fn http_1_0_closes_unless_asked_and_bad_requests_are_refused() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let (_dir, worker) = start_with_image(launcher, &bin, "x64", "protocol", "archway_probe_x64.dll");

    // HTTP/1.0 without keep-alive: Content-Length, then the worker closes.
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let r = exchange(&mut stream, &mut reader, b"GET /old HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("version=1.0\n"), "{}", r.text());
    assert!(r.header("Content-Length").is_some());
    assert_closed(&mut reader);

    // HTTP/1.0 with keep-alive: said so in the answer, and a second request works.
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let r = exchange(&mut stream, &mut reader, b"GET /k1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    let r = exchange(&mut stream, &mut reader, b"GET /k2 HTTP/1.0\r\n\r\n");
    assert!(r.text().contains("url=/k2\n"), "{}", r.text());
    assert_closed(&mut reader);

    // HTTP/1.1 with Connection: close.
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let r = exchange(&mut stream, &mut reader, b"GET /bye HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.header("Connection")), (200, Some("close")));
    assert_closed(&mut reader);

    // Headers beyond 64 KiB: 431, then close.
    let mut stream = worker.connect();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut big = b"GET /big HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..70 {
        big.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "f".repeat(1000)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    let _ = stream.write_all(&big); // the worker may close before reading it all
    let r = read_response(&mut reader, false);
    assert_eq!((r.status, r.header("Connection")), (431, Some("close")));

    // Malformed requests: 400 and close; HTTP/2.0 text: 505; an unknown transfer coding: 501.
    for (request, status) in [
        (&b"GARBAGE\r\n\r\n"[..], 400),
        (b"GET /no-host HTTP/1.1\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: h\r\nBad Header: v\r\n\r\n", 400),
        (b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET /x HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        (b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ] {
        let mut stream = worker.connect();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let r = exchange(&mut stream, &mut reader, request);
        assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(request));
        assert_closed(&mut reader);
    }
    let ended = worker.stop();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
}

/// docs/iis.md §5: a global module that cannot be loaded is event 2280 with the Win32 error, and
/// the pool answers every request with 503 (no paths in the body).
fn load_failure(launcher: &Launcher, bin: &Path, image: &str, error: &str) {
    let (_dir, worker) = start_with_image(launcher, bin, "x64", "broken", image);
    for path in ["/", "/any/thing"] {
        let mut stream = worker.connect();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let r = exchange(&mut stream, &mut reader, &get(path));
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(!r.text().contains('\\') && !r.text().contains(".dll"), "no paths in the body: {}", r.text());
    }
    let shown = if image.contains('\\') { image.to_string() } else { windows_path(&bin.join(image)) };
    let ended = worker.stop();
    let line =
        format!("archway_worker: event 2280: The Module DLL {shown} failed to load. The data is the error: {error}\n");
    assert!(ended.stderr.contains(&line), "expected {line:?} in:\n{}", ended.stderr);
    assert!(!ended.stdout.contains(" loaded from "), "{}", ended.stdout);
    assert_eq!(ended.code, Some(0));
}

#[test]
fn a_module_of_another_machine_is_event_2280_with_error_193_and_503() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    load_failure(launcher, &bin, "archway_arm64.dll", "193 (0xC1) ERROR_BAD_EXE_FORMAT");
}

#[test]
fn a_missing_module_is_event_2280_with_error_126_and_503() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let gone = windows_path(&bin.join("no_such_module.dll"));
    load_failure(launcher, &bin, &gone, "126 (0x7E) ERROR_MOD_NOT_FOUND");
}

#[test]
fn config_errors_name_the_file_and_the_line() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let good = config("p", r"C:\nowhere\archway.dll", "127.0.0.1:0:");
    // (what, file bytes, pool, expected "(line," and words of the message)
    let truncated = good[..good.find("</configuration>").unwrap()].to_string();
    let mut bad_utf8 = good.clone().into_bytes();
    bad_utf8.splice(bad_utf8.len() - 20..bad_utf8.len() - 20, [0xC3, 0x28]);
    let cases: Vec<(&str, Vec<u8>, &str, &str, &str)> = vec![
        ("a truncated file", truncated.into_bytes(), "p", "(2,", "element is not closed"),
        (
            "a mismatched end tag",
            good.replace("<bindings>", "<bindings><oops>").into_bytes(),
            "p",
            "(16,",
            "end tag does not match",
        ),
        (
            "a bad entity",
            good.replace("managedRuntimeVersion=\"\"", "managedRuntimeVersion=\"&nope;\"").into_bytes(),
            "p",
            "(5,",
            "entity",
        ),
        ("a missing pool", good.clone().into_bytes(), "absent", "(4,", "application pool \"absent\" is not defined"),
        ("no site for the pool", good.clone().into_bytes(), "other", "(8,", "no site's root application"),
        ("a bad binding", good.replace("127.0.0.1:0:", "127.0.0.1:http:").into_bytes(), "p", "(15,", "invalid port"),
        ("an IPv6 binding", good.replace("127.0.0.1:0:", "[::1]:0:").into_bytes(), "p", "(15,", "IPv6"),
        (
            "a DTD",
            format!(
                "<!DOCTYPE x [<!ENTITY a \"b\">]>\n{}",
                good.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            )
            .into_bytes(),
            "p",
            "(1,",
            "DTD",
        ),
        ("another root", b"<?xml version=\"1.0\"?>\n\n<config/>\n".to_vec(), "p", "(3,", "expected <configuration>"),
        ("invalid UTF-8", bad_utf8, "p", "(", "invalid UTF-8"),
        ("a NUL byte", format!("{good}\0").into_bytes(), "p", "(", "control character"),
        ("an empty file", Vec::new(), "p", "(1,1)", "no root element"),
    ];
    for (what, text, pool, line, words) in cases {
        let (_dir, _, windows) = write_config(&text);
        let ended = run_to_exit(launcher, &bin, "x64", pool, &windows);
        assert_eq!(ended.code, Some(3), "{what}: exit code\n{}{}", ended.stdout, ended.stderr);
        let first = ended.stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with(&format!("{windows}{line}")), "{what}: {first:?}");
        assert!(first.contains("): error: ") && first.contains(words), "{what}: {first:?}");
        assert!(!ended.stdout.contains("ready"), "{what}: {}", ended.stdout);
    }
    // A file that does not exist.
    let gone = windows_path(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such.config"));
    let ended = run_to_exit(launcher, &bin, "x64", "p", &gone);
    assert_eq!(ended.code, Some(3), "{}", ended.stderr);
    assert!(
        ended.stderr.starts_with(&format!("{gone}(1,1): error: cannot read the file: 2 (0x2) ERROR_FILE_NOT_FOUND")),
        "{}",
        ended.stderr
    );
}

/// Global modules in order (docs/iis.md §2.1): preCondition bitness, `image` expanded by the worker
/// itself (so %ProgramFiles% follows its bitness, docs/iis.md §1.3), and IIS's events 2295 (no
/// RegisterModule export) and 2293 (RegisterModule failed) with a 503 for every request.
#[test]
fn global_modules_follow_preconditions_expand_their_image_and_report_iis_events() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let bin_w = windows_path(&bin);
    for arch in runnable() {
        let other_bitness = if arch == "x86" { "bitness64" } else { "bitness32" };
        let probe = format!("%ARCHWAY_WORKER_TEST_BIN%\\archway_probe_{arch}.dll");
        let text = apphost(
            "mods",
            "127.0.0.1:0:",
            &[("skipped", r"C:\does\not\exist.dll", other_bitness), ("probe", &probe, "integratedMode")],
        );
        let (_dir, worker) =
            start_with_config(launcher, &bin, &arch, "mods", &text, &[("ARCHWAY_WORKER_TEST_BIN", &bin_w)]);
        let mut stream = worker.connect();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let r = exchange(&mut stream, &mut reader, &get("/mods"));
        assert_eq!(r.status, 200, "{arch}: {}", r.text());
        drop(stream);
        let ended = worker.stop();
        let loaded = format!("archway_worker: module probe loaded from {bin_w}\\archway_probe_{arch}.dll\n");
        assert!(ended.stdout.contains(&loaded), "{arch}: {}", ended.stdout);
        assert!(!ended.stdout.contains("module skipped"), "{arch}: {}", ended.stdout);
        assert!(
            ended.stderr.contains(&format!("archway_worker: module skipped skipped: preCondition \"{other_bitness}\"")),
            "{arch}: {}",
            ended.stderr
        );

        // %ProgramFiles% as this worker's bitness sees it (Wine's WOW64 for x86).
        let program_files = if arch == "x86" { r"C:\Program Files (x86)" } else { r"C:\Program Files" };
        let text = apphost("pf", "127.0.0.1:0:", &[("archway", r"%ProgramFiles%\ArchwayWorkerTest\archway.dll", "")]);
        let (_dir, worker) = start_with_config(launcher, &bin, &arch, "pf", &text, &[]);
        let ended = worker.stop();
        let line = format!(
            "archway_worker: event 2280: The Module DLL {program_files}\\ArchwayWorkerTest\\archway.dll failed to load. The data is the error: "
        );
        assert!(ended.stderr.contains(&line), "{arch}: expected {line:?} in\n{}", ended.stderr);

        // No RegisterModule export: event 2295 with GetLastError.
        let diagnostics = format!("{bin_w}\\archway_diagnostics_{arch}.dll");
        let text = apphost("e2295", "127.0.0.1:0:", &[("handler", &diagnostics, "")]);
        let (_dir, worker) = start_with_config(launcher, &bin, &arch, "e2295", &text, &[]);
        let mut stream = worker.connect();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        assert_eq!(exchange(&mut stream, &mut reader, &get("/")).status, 503);
        drop(stream);
        let ended = worker.stop();
        let line = format!(
            "archway_worker: event 2295: Failed to find the RegisterModule entrypoint in the module DLL {diagnostics}. The data is the error: 127 (0x7F) ERROR_PROC_NOT_FOUND\n"
        );
        assert!(ended.stderr.contains(&line), "{arch}: expected {line:?} in\n{}", ended.stderr);

        // RegisterModule returns E_FAIL: event 2293 with the HRESULT.
        let probe = format!("{bin_w}\\archway_probe_{arch}.dll");
        let text = apphost("e2293", "127.0.0.1:0:", &[("probe", &probe, "")]);
        let (_dir, worker) =
            start_with_config(launcher, &bin, &arch, "e2293", &text, &[("ARCHWAY_PROBE_FAIL_REGISTER", "1")]);
        let mut stream = worker.connect();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        assert_eq!(exchange(&mut stream, &mut reader, &get("/")).status, 503);
        drop(stream);
        let ended = worker.stop();
        let line = format!(
            "archway_worker: event 2293: The Module name probe path {probe} returned an error from registration. The data is the error: 0x80004005\n"
        );
        assert!(ended.stderr.contains(&line), "{arch}: expected {line:?} in\n{}", ended.stderr);
        assert_eq!(ended.code, Some(0));
    }
}

/// The config file is untrusted-ish: cut short or with bytes flipped anywhere, the worker
/// refuses it (exit 3) or, if it still happens to be valid, starts; it never crashes.
#[test]
fn damaged_config_files_are_refused_never_crash() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let good = config("p", r"C:\nowhere\archway.dll", "127.0.0.1:0:").into_bytes();
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for k in 1..12 {
        cases.push(good[..good.len() * k / 12].to_vec());
    }
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..12 {
        let mut damaged = good.clone();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % damaged.len() as u64) as usize;
            damaged[at] = [b'<', b'>', b'&', b'"', b'\'', b'/', 0, 0xFF, b'=', b' '][(seed >> 32) as usize % 10];
        }
        cases.push(damaged);
    }
    for (i, text) in cases.iter().enumerate() {
        let (_dir, _, windows) = write_config(text);
        let ended = run_to_exit(launcher, &bin, "x64", "p", &windows);
        // Stdin is empty, so a config that is still valid starts and stops at once (0).
        assert!(
            matches!(ended.code, Some(0) | Some(3)),
            "case {i}: exit {:?}\n{}{}",
            ended.code,
            ended.stdout,
            ended.stderr
        );
        if ended.code == Some(3) {
            assert!(
                ended.stderr.starts_with(&format!("{windows}(")) && ended.stderr.contains("): error: "),
                "case {i}: {}",
                ended.stderr
            );
        }
    }
}

/// `-max-seconds` is the safety net: a worker whose stdin never closes stops by itself (exit 4,
/// after the same graceful stop), and a bad command line is refused (exit 2).
#[test]
fn max_seconds_stops_a_forgotten_worker_and_bad_arguments_are_refused() {
    let Some(launcher) = launcher() else { return };
    let Some(bin) = built() else { return };
    let (_dir, _, config) = write_config(config("p", &windows_path(&bin.join("archway_x64.dll")), "127.0.0.1:0:"));
    let mut cmd = worker_command_for(launcher, &bin, "x64", "p", &config, &[], "2");
    let mut child = cmd.spawn().expect("the worker starts");
    let stdin = child.stdin.take(); // kept open: only -max-seconds can end it
    let (out, err) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
    collect(child.stdout.take().unwrap(), out.clone(), None);
    collect(child.stderr.take().unwrap(), err.clone(), None);
    let status = wait_or_kill(&mut child, EXIT);
    drop(stdin);
    std::thread::sleep(Duration::from_millis(100));
    let (out, err) = (out.lock().unwrap().clone(), err.lock().unwrap().clone());
    assert_eq!(status.and_then(|s| s.code()), Some(4), "{out}{err}");
    assert!(out.ends_with("archway_worker: ready\narchway_worker: stopped\n"), "{out}");
    assert!(err.contains("archway_worker: -max-seconds 2 elapsed: stopping\n"), "{err}");

    for args in [
        &["-ap", "p"][..],
        &["-h", &config],
        &["-ap", "p", "-h", &config, "-max-seconds", "soon"],
        &["-ap", "p", "-h", &config, "--what"],
    ] {
        let mut cmd = program(launcher, &bin.join("archway_worker_x64.exe"));
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let status = run_with_deadline(cmd, EXIT);
        assert_eq!(status.and_then(|s| s.code()), Some(2), "{args:?}");
    }
}

/// The prefix these tests run in is made as `cargo xtask wine-prefix` makes every archway prefix:
/// Wine's own DLLs are links to one shared copy in archway's cache folder, never into Wine's own
/// install (which `wineboot --update` would rewrite through the link), and the prefix stays
/// small (a full one is 1.3 GB, and one per test binary once filled a CI disk).
#[test]
fn the_wine_prefix_links_wines_own_files_to_a_shared_copy_and_stays_small() {
    let Some(Launcher::Wine(_)) = launcher() else { return };
    let prefix = wine_prefix();
    let kernel32 = prefix.join("drive_c/windows/system32/kernel32.dll");
    let target = std::fs::read_link(&kernel32).unwrap_or_else(|e| panic!("{} is not a link: {e}", kernel32.display()));
    assert!(
        target.components().any(|c| c.as_os_str() == "wine-files"),
        "{} links to {}",
        kernel32.display(),
        target.display()
    );
    assert!(std::fs::metadata(&target).unwrap().permissions().readonly(), "{} is writable", target.display());
    assert_eq!(std::fs::read_to_string(prefix.join(".update-timestamp")).unwrap().trim(), "disable");
    fn bytes_below(dir: &Path) -> u64 {
        let mut total = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                total += bytes_below(&entry.path());
            } else if kind.is_file() {
                total += entry.metadata().unwrap().len();
            }
        }
        total
    }
    let size = bytes_below(&prefix);
    assert!(size < 400_000_000, "the prefix holds {} MB of its own files", size / 1_000_000);
}
