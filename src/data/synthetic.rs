//! Small data sets in CIFAR-10's official binary layout, written by tests and demos: each
//! class has its own colour, so a network can learn them in a few steps.

use super::{BATCH_DIR, IMAGE_BYTES, TEST_FILE, TRAIN_FILES};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::Path;

/// Records of one batch file: `count` images with labels cycling 0..9.
pub fn records(count: usize, seed: u64) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count * (IMAGE_BYTES + 1));
    for i in 0..count {
        let label = (i % 10) as u8;
        out.push(label);
        for channel in 0..3 {
            let base = 40 + 20 * ((label as usize + channel * 3) % 10) as i32;
            for _ in 0..1024 {
                out.push((base + rng.random_range(-30..=30)).clamp(0, 255) as u8);
            }
        }
    }
    out
}

/// Every batch file's name and records: `per_train_file` images in each training file and
/// `test` in the test file.
pub fn files(per_train_file: usize, test: usize) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = TRAIN_FILES
        .iter()
        .enumerate()
        .map(|(i, name)| (name.to_string(), records(per_train_file, i as u64)))
        .collect();
    files.push((TEST_FILE.to_string(), records(test, 99)));
    files
}

/// Writes a `.tar.gz` with the official layout holding `files`.
pub fn write_archive(path: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let gz =
        flate2::write::GzEncoder::new(std::fs::File::create(path)?, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{BATCH_DIR}/{name}"), bytes.as_slice())?;
    }
    let meta = super::CLASSES.join("\n") + "\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(meta.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(
        &mut header,
        format!("{BATCH_DIR}/batches.meta.txt"),
        meta.as_bytes(),
    )?;
    tar.into_inner()?.finish()?.flush()
}

/// Writes the extracted layout: `dir/cifar-10-batches-bin/*.bin`.
pub fn write_folder(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let batches = dir.join(BATCH_DIR);
    std::fs::create_dir_all(&batches)?;
    for (name, bytes) in files {
        std::fs::write(batches.join(name), bytes)?;
    }
    Ok(())
}

/// Writes `train` and `test` (CIFAR-sized images, labels 0..99) as CIFAR-100's binary folder:
/// `dir/cifar-100-binary/{train,test}.bin` of `<coarse><fine><3072 px>` records (coarse =
/// fine / 5) and the two label-name files.
pub fn write_cifar100(
    dir: &Path,
    train: &super::Split,
    test: &super::Split,
) -> std::io::Result<()> {
    let folder = dir.join(super::cifar100::FOLDER);
    std::fs::create_dir_all(&folder)?;
    for (name, split) in [("train.bin", train), ("test.bin", test)] {
        let mut out = Vec::with_capacity(split.len() * super::cifar100::RECORD);
        for (image, &fine) in split.images().zip(split.labels()) {
            out.extend_from_slice(&[fine / 5, fine]);
            out.extend_from_slice(image);
        }
        std::fs::write(folder.join(name), out)?;
    }
    let names = |n: usize, what: &str| (0..n).map(|i| format!("{what}{i}\n")).collect::<String>();
    std::fs::write(folder.join("fine_label_names.txt"), names(100, "fine"))?;
    std::fs::write(folder.join("coarse_label_names.txt"), names(20, "coarse"))
}

/// Writes `train` and `test` (one channel, `height` x `width`) as MNIST's four idx files in
/// `dir`, gzipped (`.gz`) or not.
pub fn write_idx(
    dir: &Path,
    train: &super::Split,
    test: &super::Split,
    (height, width): (usize, usize),
    gzip: bool,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let be = |n: usize| (n as u32).to_be_bytes();
    for (stem, split) in [("train", train), ("t10k", test)] {
        let mut images = vec![0, 0, 8, 3];
        images.extend(be(split.len()));
        images.extend(be(height));
        images.extend(be(width));
        split.images().for_each(|im| images.extend_from_slice(im));
        let mut labels = vec![0, 0, 8, 1];
        labels.extend(be(split.len()));
        labels.extend_from_slice(split.labels());
        for (name, bytes) in [
            (format!("{stem}-images-idx3-ubyte"), images),
            (format!("{stem}-labels-idx1-ubyte"), labels),
        ] {
            if gzip {
                let file = std::fs::File::create(dir.join(format!("{name}.gz")))?;
                let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                gz.write_all(&bytes)?;
                gz.finish()?;
            } else {
                std::fs::write(dir.join(name), bytes)?;
            }
        }
    }
    Ok(())
}

/// Writes `train` and `test` (images of `shape`) as image folders in torchvision's layout,
/// `dir/{train,test}/<class name>/<index>.png`, the index zero-padded so that name order is
/// the split's order within each class.
pub fn write_image_folder(
    dir: &Path,
    train: &super::Split,
    test: &super::Split,
    shape: super::DataShape,
    names: &[String],
) -> std::io::Result<()> {
    let dims = (shape.channels, shape.height, shape.width);
    for (part, split) in [("train", train), ("test", test)] {
        for name in names {
            std::fs::create_dir_all(dir.join(part).join(name))?;
        }
        for (i, (image, &label)) in split.images().zip(split.labels()).enumerate() {
            let path = dir
                .join(part)
                .join(&names[label as usize])
                .join(format!("{i:07}.png"));
            super::resample::to_image(image, dims)
                .save_with_format(&path, image::ImageFormat::Png)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
    }
    Ok(())
}

/// The images of `split` reordered class by class (each class's in their order): the order an
/// image folder of them is read in.
pub fn class_major(split: &super::Split) -> super::Split {
    let mut order: Vec<u32> = (0..split.len() as u32).collect();
    order.sort_by_key(|&i| (split.labels()[i as usize], i));
    split.subset(&order)
}
