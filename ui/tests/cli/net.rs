//! `gradboard net`: the shipped nets listed, a summary as a table and as JSON, a user's net
//! file, and a bad net as one line naming its layer.

use super::*;

#[test]
fn net_show_summarises_a_shipped_net_and_a_users_file() {
    let home = tempfile::tempdir().unwrap();
    let out = gradboard(home.path())
        .args(["net", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        list.contains("lab-vgg") && list.contains("resnet-small"),
        "{list}"
    );
    let out = gradboard(home.path())
        .args(["net", "show", "lab-vgg", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["params"], 9_228_362);
    let layers = s["layers"].as_array().unwrap();
    assert_eq!(layers.last().unwrap()["kind"], "linear");
    assert_eq!(layers.last().unwrap()["out"], serde_json::json!([10]));
    assert_eq!(layers[0]["out"], serde_json::json!([64, 32, 32]));
    for key in ["name", "kind", "out", "params", "flops"] {
        assert!(layers[0].get(key).is_some(), "{key}");
    }
    // A user's net: a residual block, a stride-2 conv, GELU, dropout, global average pooling.
    let file = home.path().join("mine.toml");
    std::fs::write(
        &file,
        r#"vars = { width = 8 }
layers = [
  { conv = "$width" }, "bn", "relu",
  { residual = [ { conv = "$width", bias = false }, "bn", "relu", { conv = "$width", bias = false }, "bn" ] },
  { conv = 16, stride = 2 }, "gelu", { dropout = 0.1 }, "gap", { linear = "classes" },
]
"#,
    )
    .unwrap();
    let show = |extra: &[&str]| {
        gradboard(home.path())
            .args(["net", "show"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = show(&["--set", "net.width=4", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_hand =
        (3 * 9 * 4 + 4) + 2 * 4 + 2 * (4 * 9 * 4 + 2 * 4) + (4 * 9 * 16 + 16) + (16 * 10 + 10);
    assert_eq!(s["params"], by_hand);
    let table = String::from_utf8_lossy(&show(&[]).stdout).to_string();
    assert!(
        table.contains("total:") && table.contains("memory:"),
        "{table}"
    );
    // Bad nets: one line naming the layer, exit 2.
    std::fs::write(&file, "layers = [{ conv = 8 }, { maxpool = 64 }]\n").unwrap();
    let out = show(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("layer 1 (maxpool)") && err.contains("shrinks it to nothing"),
        "{err}"
    );
    let out = show(&["--set", "width=3"]);
    assert!(stderr(&out).contains("net.VAR=VALUE"), "{}", stderr(&out));
}
