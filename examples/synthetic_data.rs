//! Writes a small synthetic data set in CIFAR-10's binary layout, for trying gradboard
//! without the real archive: `cargo run --release -p gradboard --example synthetic_data -- OUT.tar.gz [PER_FILE] [TEST]`.
fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("synthetic-cifar.tar.gz");
    let per_file = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let test = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let files = gradboard::data::synthetic::files(per_file, test);
    gradboard::data::synthetic::write_archive(std::path::Path::new(out), &files)?;
    println!(
        "wrote {out}: {} training and {test} test images",
        5 * per_file
    );
    Ok(())
}
