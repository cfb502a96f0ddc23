//! Cuts CIFAR-10 into every format `--data` reads, for trying them on real images:
//! `cargo run --release --example cut_formats -- CIFAR10_PATH OUT_DIR [TRAIN] [TEST]` writes
//! the first TRAIN training and TEST test images (default 5000 and 1000) as
//! `OUT_DIR/png` (image folders), `OUT_DIR/cifar10` (CIFAR-10's binary layout, the images in
//! the folders' class-by-class order: the same images in the same order), `OUT_DIR/cifar100`
//! (CIFAR-100's layout, fine label = the CIFAR-10 class) and `OUT_DIR/idx` (grey, gzipped).

use gradboard::data::synthetic::{
    class_major, write_cifar100, write_folder, write_idx, write_image_folder,
};
use gradboard::data::{resample, Dataset, TEST_FILE, TRAIN_FILES};
use std::path::PathBuf;

fn records(split: &gradboard::data::Split, range: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in range {
        out.push(split.labels()[i]);
        out.extend_from_slice(split.image(i));
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (source, out) = match (args.first(), args.get(1)) {
        (Some(s), Some(o)) => (PathBuf::from(s), PathBuf::from(o)),
        _ => return Err("usage: cut_formats CIFAR10_PATH OUT_DIR [TRAIN] [TEST]".into()),
    };
    let n_train: usize = args.get(2).map_or(Ok(5000), |s| s.parse())?;
    let n_test: usize = args.get(3).map_or(Ok(1000), |s| s.parse())?;
    let data = Dataset::load(&source)?;
    let first = |n: usize, len: usize| (0..n.min(len) as u32).collect::<Vec<u32>>();
    let train = class_major(&data.train.subset(&first(n_train, data.train.len())));
    let test = class_major(&data.test.subset(&first(n_test, data.test.len())));
    write_image_folder(
        &out.join("png"),
        &train,
        &test,
        data.shape,
        &data.class_names,
    )?;
    let per_file = train.len().div_ceil(TRAIN_FILES.len());
    let mut files: Vec<(String, Vec<u8>)> = TRAIN_FILES
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let range = (k * per_file).min(train.len())..((k + 1) * per_file).min(train.len());
            (name.to_string(), records(&train, range))
        })
        .collect();
    files.push((TEST_FILE.to_string(), records(&test, 0..test.len())));
    write_folder(&out.join("cifar10"), &files)?;
    write_cifar100(&out.join("cifar100"), &train, &test)?;
    let grey = |s| resample::split(s, (3, 32, 32), (1, 32, 32));
    write_idx(
        &out.join("idx"),
        &grey(&train),
        &grey(&test),
        (32, 32),
        true,
    )?;
    println!(
        "{} training and {} test images in {}/{{png,cifar10,cifar100,idx}}",
        train.len(),
        test.len(),
        out.display()
    );
    Ok(())
}
