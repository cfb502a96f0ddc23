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

/// Writes the same 200 training and 50 test images as an image folder, CIFAR-100, idx
/// (grey, gzipped) and CIFAR-10: (name, path, format, shape, classes).
fn every_format(dir: &Path) -> Vec<(&'static str, PathBuf, &'static str, [usize; 3], usize)> {
    use gradboard::data::synthetic::{class_major, write_cifar100, write_idx, write_image_folder};
    use gradboard::data::{resample, DataShape, Dataset};
    let cifar = tiny_archive(dir);
    let data = Dataset::load(&cifar).unwrap();
    let (train, test) = (class_major(&data.train), class_major(&data.test));
    let png = dir.join("png");
    write_image_folder(&png, &train, &test, DataShape::CIFAR10, &data.class_names).unwrap();
    let c100 = dir.join("c100");
    write_cifar100(&c100, &train, &test).unwrap();
    let idx = dir.join("idx");
    let grey = |s| resample::split(s, (3, 32, 32), (1, 32, 32));
    write_idx(&idx, &grey(&train), &grey(&test), (32, 32), true).unwrap();
    vec![
        ("cifar-10", cifar, "cifar-10", [3, 32, 32], 10),
        ("png", png, "image-folder", [3, 32, 32], 10),
        ("cifar-100", c100, "cifar-100", [3, 32, 32], 100),
        ("idx", idx, "idx", [1, 32, 32], 10),
    ]
}

#[test]
fn every_format_is_inspected_and_trains_from_the_command_line() {
    let home = tempfile::tempdir().unwrap();
    for (name, path, format, shape, classes) in every_format(home.path()) {
        let out = gradboard(home.path())
            .args(["data", "inspect", "--json"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["format"], format, "{name}");
        assert_eq!(report["shape"], serde_json::json!(shape), "{name}");
        assert_eq!(
            report["classes"].as_array().unwrap().len(),
            classes,
            "{name}"
        );
        assert_eq!(report["train"]["n"], 200, "{name}");
        assert_eq!(report["test"]["n"], 50, "{name}");
        assert_eq!(report["duplicates"], 0, "{name}");
        // The lab's MLP and ConvNet on every shape and class count.
        for preset in ["mlp-default", "convnet"] {
            let out = gradboard(home.path())
                .args(["train", "--json", "--preset", preset])
                .args([
                    "--set",
                    "steps=4",
                    "--set",
                    "eval_every=2",
                    "--set",
                    "batch_size=10",
                ])
                .arg("--data")
                .arg(&path)
                .output()
                .unwrap();
            assert!(out.status.success(), "{name} {preset}: {}", stderr(&out));
            let events = events(&out.stdout);
            let start = &events[0]["data"];
            assert_eq!(start["format"], format, "{name}");
            assert_eq!(start["shape"], serde_json::json!(shape), "{name}");
            assert_eq!(start["classes"], classes, "{name}");
            assert_eq!(start["class_names"].as_array().unwrap().len(), classes);
            let done = events.last().unwrap();
            assert_eq!(done["status"], "completed", "{name} {preset}");
        }
    }
}

#[test]
fn the_same_images_as_png_folders_and_cifar_binary_train_to_the_same_figures() {
    let home = tempfile::tempdir().unwrap();
    let formats = every_format(home.path());
    // The twin of the folders: the CIFAR-10 images in the folders' class-by-class order.
    let twin = home.path().join("twin");
    {
        use gradboard::data::synthetic::class_major;
        let data = gradboard::data::Dataset::load(&formats[0].1).unwrap();
        let record = |s: &gradboard::data::Split| {
            let mut out = Vec::new();
            for (im, &l) in s.images().zip(s.labels()) {
                out.push(l);
                out.extend_from_slice(im);
            }
            out
        };
        let train = record(&class_major(&data.train));
        let per = train.len() / 5;
        let mut set: Vec<(String, Vec<u8>)> = gradboard::data::TRAIN_FILES
            .iter()
            .enumerate()
            .map(|(k, n)| (n.to_string(), train[k * per..(k + 1) * per].to_vec()))
            .collect();
        set.push(("test_batch.bin".into(), record(&class_major(&data.test))));
        write_folder(&twin, &set).unwrap();
    }
    let figures = |path: &Path| -> Vec<Value> {
        let out = gradboard(home.path())
            .args(["train", "--json", "--preset", "mlp-default"])
            .args([
                "--set",
                "steps=20",
                "--set",
                "eval_every=10",
                "--set",
                "batch_size=20",
            ])
            .arg("--data")
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        events(&out.stdout)
            .into_iter()
            .filter(|e| e["event"] == "train" || e["event"] == "eval")
            .map(|e| serde_json::json!([e["loss"], e["test_acc"], e["test_loss"]]))
            .collect()
    };
    let png = figures(&formats[1].1);
    assert!(png.len() >= 20);
    assert_eq!(png, figures(&twin));
}

#[test]
fn data_keys_shape_what_is_read_and_a_net_that_cannot_take_it_is_one_line() {
    let home = tempfile::tempdir().unwrap();
    let formats = every_format(home.path());
    // image_size resizes what is read: the run trains on 16x16 images.
    let out = gradboard(home.path())
        .args(["train", "--json", "--preset", "mlp-default"])
        .args([
            "--set",
            "steps=2",
            "--set",
            "eval_every=2",
            "--set",
            "image_size=16",
        ])
        .arg("--data")
        .arg(&formats[3].1)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        events(&out.stdout)[0]["data"]["shape"],
        serde_json::json!([1, 16, 16])
    );
    // A net that cannot take the data's shape says which layer, before anything trains.
    let net = home.path().join("wide.toml");
    std::fs::write(
        &net,
        "layers = [{ conv = 8, k = 5, pad = 0 }, \"gap\", { linear = \"classes\" }]\n",
    )
    .unwrap();
    for args in [
        vec!["net", "show", net.to_str().unwrap()],
        vec![
            "train",
            "--preset",
            "mlp-default",
            "--set",
            &format!("net={}", net.display()),
        ],
    ] {
        let out = gradboard(home.path())
            .args(&args)
            .args(["--set", "image_size=4", "--data"])
            .arg(&formats[3].1)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("layer 0 (conv)") && err.contains("nothing"),
            "{err}"
        );
    }
    assert_eq!(
        run_dirs(&home.path().join("runs")).len(),
        1,
        "no folder for a refused net"
    );
}

#[test]
fn inspect_lists_every_unreadable_image_and_train_names_the_first() {
    let home = tempfile::tempdir().unwrap();
    let png = every_format(home.path())[1].1.clone();
    let cat = png.join("train/cat");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cat)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    std::fs::write(&files[0], b"not an image").unwrap();
    std::fs::write(png.join("test/dog/broken.jpg"), b"\xff\xd8 cut").unwrap();
    let out = gradboard(home.path())
        .args(["data", "inspect", "--json"])
        .arg(&png)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = report["unreadable"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{report}");
    let out = gradboard(home.path())
        .args(["train", "--preset", "mlp-default", "--data"])
        .arg(&png)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("not a readable image"), "{err}");
}
