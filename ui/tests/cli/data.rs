//! The data set: broken archives, `data verify`, the first-use download and its failures.

use super::*;

#[test]
fn broken_data_sets_are_reported_by_train_and_verify() {
    let home = tempfile::tempdir().unwrap();
    let mut set = files(5, 5);
    set[2].1.truncate(1000);
    write_folder(home.path(), &set).unwrap();
    let garbage = home.path().join("garbage.tar.gz");
    std::fs::write(&garbage, b"PK\x03\x04 not a tarball").unwrap();
    for data in [home.path().to_path_buf(), garbage] {
        for args in [
            vec!["data", "verify"],
            vec!["train", "--preset", "numpy-mlp"],
        ] {
            let out = gradboard(home.path())
                .args(&args)
                .arg("--data")
                .arg(&data)
                .output()
                .unwrap();
            let err = stderr(&out);
            assert!(!out.status.success());
            assert!(
                err.contains("data_batch_3.bin") || err.contains("not a gzip file"),
                "{err}"
            );
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
    }
}

#[test]
fn data_verify_reports_counts_per_class() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["data", "verify", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("train: 200 images, test: 50 images"),
        "{text}"
    );
    assert!(
        text.contains("airplane") && text.contains("train    20  test     5"),
        "{text}"
    );
}

#[test]
fn first_use_downloads_into_the_cache_then_reuses_it() {
    use std::io::{Read, Write};
    let home = tempfile::tempdir().unwrap();
    let source = tiny_archive(home.path());
    let bytes = std::fs::read(&source).unwrap();
    let md5 = gradboard::data::md5_file(&source).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cifar-10-binary.tar.gz",
        listener.local_addr().unwrap()
    );
    let body = bytes.clone();
    std::thread::spawn(move || {
        if let Some(Ok(mut s)) = listener.incoming().next() {
            let _ = s.read(&mut [0u8; 4096]);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    let run = || {
        gradboard(home.path())
            .env("GRADBOARD_DATA_URL", &url)
            .env("GRADBOARD_DATA_MD5", &md5)
            .args([
                "train",
                "--preset",
                "numpy-mlp",
                "--set",
                "steps=3",
                "--set",
                "batch_size=10",
            ])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("saved and verified"));
    let cached = home.path().join("cache/gradboard/cifar-10-binary.tar.gz");
    assert_eq!(std::fs::read(&cached).unwrap(), bytes);
    // The server is gone: the second run must use the cached archive.
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("downloading"));
}

#[test]
fn a_failed_download_says_how_to_fix_it_and_leaves_no_file() {
    let home = tempfile::tempdir().unwrap();
    let out = gradboard(home.path())
        .env(
            "GRADBOARD_DATA_URL",
            "http://127.0.0.1:9/cifar-10-binary.tar.gz",
        )
        .args(["train", "--preset", "numpy-mlp"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("GRADBOARD_DATA"), "{err}");
    let cache = home.path().join("cache/gradboard");
    assert_eq!(std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0), 0);
}
