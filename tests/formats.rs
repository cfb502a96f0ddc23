//! Every data format `--data` reads, written here from the same small images: each loads
//! with its counts, shape and class names; the data keys (image_size, channels, label,
//! test_split) change what is read; the same images in two formats are the same data; and
//! each bad input is one error naming the file or folder.

use gradboard::config::Label;
use gradboard::data::synthetic::{
    class_major, records, write_cifar100, write_idx, write_image_folder,
};
use gradboard::data::{resample, DataFormat, DataOptions, DataShape, Dataset, Split};
use std::path::Path;

/// 60 training and 20 test CIFAR-sized images, labels cycling 0..9.
fn images() -> (Split, Split) {
    let split = |n, seed| {
        let r = records(n, seed);
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for rec in r.chunks_exact(3073) {
            labels.push(rec[0]);
            images.extend_from_slice(&rec[1..]);
        }
        Split::from_images(&images, &labels)
    };
    (split(60, 1), split(20, 2))
}

/// One cache folder for the whole test binary (prepared image folders go there, never into
/// the user's): every test that reads an image folder calls this first.
fn cache() -> &'static Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            // SAFETY: every test sets the same value before reading it.
            unsafe { std::env::set_var("XDG_CACHE_HOME", dir.path()) };
            dir
        })
        .path()
}

fn names() -> Vec<String> {
    gradboard::data::CLASSES
        .iter()
        .map(|c| c.to_string())
        .collect()
}

fn error(path: &Path, options: &DataOptions) -> String {
    Dataset::load_with(path, options).unwrap_err().to_string()
}

#[test]
fn an_image_folder_and_its_cifar_twin_are_the_same_data() {
    cache();
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = images();
    let (train, test) = (class_major(&train), class_major(&test));
    write_image_folder(dir.path(), &train, &test, DataShape::CIFAR10, &names()).unwrap();
    let folder = Dataset::load(dir.path()).unwrap();
    assert_eq!(folder.format, DataFormat::ImageFolder);
    assert_eq!(folder.shape, DataShape::CIFAR10);
    assert_eq!(folder.class_names, names());
    assert_eq!((folder.train.len(), folder.test.len()), (60, 20));
    // PNG is lossless and the folders are read class by class in name order: the images,
    // labels and mean are the CIFAR split's exactly, so a run trains to the same figures.
    for i in 0..60 {
        assert_eq!(folder.train.image(i), train.image(i), "image {i}");
    }
    assert_eq!(folder.train.labels(), train.labels());
    assert_eq!(folder.test.labels(), test.labels());
    assert_eq!(folder.mean, gradboard::data::mean_image(&train));
}

#[test]
fn cifar100_reads_fine_or_coarse_labels_and_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = images();
    // Labels 0..9 as fine labels 0, 11, 22, ...: coarse = fine / 5.
    let spread = |s: &Split| {
        let labels: Vec<u8> = s.labels().iter().map(|&l| l * 11).collect();
        let flat: Vec<u8> = s.images().flatten().copied().collect();
        Split::from_images(&flat, &labels)
    };
    write_cifar100(dir.path(), &spread(&train), &spread(&test)).unwrap();
    let fine = Dataset::load(dir.path()).unwrap();
    assert_eq!(fine.format, DataFormat::Cifar100);
    assert_eq!(fine.shape.classes, 100);
    assert_eq!(fine.class_names[11], "fine11");
    assert_eq!(fine.train.labels()[1], 11);
    let coarse = DataOptions {
        label: Label::Coarse,
        ..DataOptions::default()
    };
    let coarse = Dataset::load_with(dir.path(), &coarse).unwrap();
    assert_eq!(coarse.shape.classes, 20);
    assert_eq!(coarse.train.labels()[1], 2, "fine 11 is coarse 2");
    assert_eq!(coarse.class_names[2], "coarse2");
    // A file that is not a whole number of records.
    let bin = dir.path().join("cifar-100-binary/test.bin");
    let mut bytes = std::fs::read(&bin).unwrap();
    bytes.truncate(bytes.len() - 7);
    std::fs::write(&bin, bytes).unwrap();
    let e = error(dir.path(), &DataOptions::default());
    assert!(
        e.contains("test.bin") && e.contains("whole number of 3074-byte"),
        "{e}"
    );
}

#[test]
fn idx_files_read_gzipped_or_not_and_their_counts_are_checked() {
    let (train, test) = images();
    let grey = |s: &Split| resample::split(s, (3, 32, 32), (1, 32, 32));
    for gzip in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), &grey(&train), &grey(&test), (32, 32), gzip).unwrap();
        let data = Dataset::load(dir.path()).unwrap();
        assert_eq!(data.format, DataFormat::Idx);
        assert_eq!(data.shape.dims(), [1, 32, 32]);
        assert_eq!(
            data.class_names,
            (0..10).map(|c| c.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(data.test.labels(), test.labels());
        // Three channels asked for: the grey values in each.
        let rgb = DataOptions {
            channels: Some(3),
            image_size: Some(16),
            ..DataOptions::default()
        };
        let rgb = Dataset::load_with(dir.path(), &rgb).unwrap();
        assert_eq!(rgb.shape.dims(), [3, 16, 16]);
        let im = rgb.train.image(0);
        assert_eq!(&im[..256], &im[256..512], "grey in every channel");
    }
    // EMNIST's names: a prefix, and test- for t10k-.
    let dir = tempfile::tempdir().unwrap();
    write_idx(dir.path(), &grey(&train), &grey(&test), (32, 32), true).unwrap();
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let path = f.unwrap().path();
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("t10k", "test");
        std::fs::rename(&path, dir.path().join(format!("emnist-digits-{name}"))).unwrap();
    }
    let emnist = Dataset::load(dir.path()).unwrap();
    assert_eq!((emnist.train.len(), emnist.test.len()), (60, 20));
    // Labels that disagree with the images' count.
    let dir = tempfile::tempdir().unwrap();
    let short = grey(&test).subset(&[0, 1, 2]);
    write_idx(dir.path(), &grey(&train), &grey(&test), (32, 32), false).unwrap();
    let other = tempfile::tempdir().unwrap();
    write_idx(other.path(), &grey(&train), &short, (32, 32), false).unwrap();
    std::fs::copy(
        other.path().join("t10k-labels-idx1-ubyte"),
        dir.path().join("t10k-labels-idx1-ubyte"),
    )
    .unwrap();
    let e = error(dir.path(), &DataOptions::default());
    assert!(
        e.contains("t10k-labels-idx1-ubyte") && e.contains("3 labels for 20 test images"),
        "{e}"
    );
}

#[test]
fn one_class_tree_holds_out_test_split_images_by_a_fixed_draw() {
    cache();
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = images();
    write_image_folder(dir.path(), &train, &test, DataShape::CIFAR10, &names()).unwrap();
    let tree = dir.path().join("train");
    let e = error(&tree, &DataOptions::default());
    assert!(e.contains("test_split"), "{e}");
    let options = DataOptions {
        test_split: 15,
        ..DataOptions::default()
    };
    let a = Dataset::load_with(&tree, &options).unwrap();
    assert_eq!((a.train.len(), a.test.len()), (45, 15));
    let b = Dataset::load_with(&tree, &options).unwrap();
    assert_eq!(a.test.labels(), b.test.labels(), "the same draw every time");
    let small = DataOptions {
        image_size: Some(8),
        channels: Some(1),
        ..options
    };
    let c = Dataset::load_with(&tree, &small).unwrap();
    assert_eq!(c.shape.dims(), [1, 8, 8]);
    assert_eq!(c.train.image(0).len(), 64);
}

#[test]
fn bad_image_folders_are_one_line_naming_the_file_or_folder() {
    cache();
    let (train, test) = images();
    let fresh = || {
        let dir = tempfile::tempdir().unwrap();
        write_image_folder(dir.path(), &train, &test, DataShape::CIFAR10, &names()).unwrap();
        dir
    };
    let options = DataOptions::default();
    let one_line = |e: &str| assert_eq!(e.lines().count(), 1, "{e}");
    // A corrupt image.
    let dir = fresh();
    let bad = dir.path().join("train/cat/0000003.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let e = error(dir.path(), &options);
    one_line(&e);
    assert!(
        e.contains("0000003.png") && e.contains("not a readable image"),
        "{e}"
    );
    // An empty class folder.
    let dir = fresh();
    std::fs::create_dir(dir.path().join("train/zebra")).unwrap();
    let e = error(dir.path(), &options);
    assert!(
        e.contains("zebra") && e.contains("empty class folder"),
        "{e}"
    );
    // A test class the training set lacks.
    let dir = fresh();
    let lion = dir.path().join("test/lion");
    std::fs::create_dir(&lion).unwrap();
    std::fs::copy(dir.path().join("test/cat/0000003.png"), lion.join("a.png")).unwrap();
    let e = error(dir.path(), &options);
    assert!(
        e.contains("lion") && e.contains("training set lacks"),
        "{e}"
    );
    // Mixed sizes, then mixed channels.
    let dir = fresh();
    let odd = dir.path().join("train/dog/0000005.png");
    image::RgbImage::new(16, 16).save(&odd).unwrap();
    let e = error(dir.path(), &options);
    assert!(e.contains("0000005.png") && e.contains("image_size"), "{e}");
    let sized = DataOptions {
        image_size: Some(32),
        ..options.clone()
    };
    assert!(Dataset::load_with(dir.path(), &sized).is_ok());
    image::GrayImage::new(32, 32).save(&odd).unwrap();
    let e = error(dir.path(), &options);
    assert!(e.contains("0000005.png") && e.contains("channels"), "{e}");
    // A folder with no images at all, and no folder.
    let empty = tempfile::tempdir().unwrap();
    let e = error(empty.path(), &options);
    assert!(e.contains("not a data set"), "{e}");
    let e = error(&empty.path().join("nowhere"), &options);
    assert!(e.contains("no such file or folder"), "{e}");
}

#[test]
fn a_symlink_loop_is_an_error_not_a_hang() {
    cache();
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = images();
    write_image_folder(dir.path(), &train, &test, DataShape::CIFAR10, &names()).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("train/cat"),
        dir.path().join("train/cat/loop"),
    )
    .unwrap();
    // Class folders are read one level deep: the loop is a sub-folder, skipped.
    let data = Dataset::load(dir.path()).unwrap();
    assert_eq!(data.train.len(), 60);
    std::os::unix::fs::symlink(
        dir.path().join("train/cat/nowhere"),
        dir.path().join("train/cat/dangling.png"),
    )
    .unwrap();
    let e = error(dir.path(), &DataOptions::default());
    assert!(e.contains("dangling.png"), "{e}");
}

#[test]
fn an_image_folder_is_decoded_once_then_mapped_and_a_change_prepares_anew() {
    let cache = cache();
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = images();
    write_image_folder(dir.path(), &train, &test, DataShape::CIFAR10, &names()).unwrap();
    let first = Dataset::load(dir.path()).unwrap();
    let file = first.prepared.clone().expect("a prepared file");
    assert!(file.starts_with(cache), "{}", file.display());
    let second = Dataset::load(dir.path()).unwrap();
    assert!(second.train.is_mapped() && second.test.is_mapped());
    assert_eq!(second.prepared.as_ref(), Some(&file));
    for i in 0..60 {
        assert_eq!(second.train.image(i), first.train.image(i));
    }
    assert_eq!(second.train.labels(), first.train.labels());
    assert_eq!(second.mean, first.mean);
    // Other settings, or a changed image: another prepared file.
    let small = DataOptions {
        image_size: Some(16),
        ..DataOptions::default()
    };
    let resized = Dataset::load_with(dir.path(), &small).unwrap();
    assert_ne!(resized.prepared.as_ref(), Some(&file));
    let png = dir.path().join("train/cat/0000003.png");
    image::RgbImage::from_pixel(32, 32, image::Rgb([9, 9, 9]))
        .save(&png)
        .unwrap();
    let changed = Dataset::load(dir.path()).unwrap();
    assert_ne!(changed.prepared.as_ref(), Some(&file));
    // A damaged prepared file is not used: the folder is decoded again.
    std::fs::write(&file, b"GBDATA01 cut").unwrap();
    std::fs::copy(dir.path().join("train/cat/0000013.png"), &png).unwrap();
    let _ = Dataset::load(dir.path()).unwrap();
}

#[test]
fn jpeg_bmp_webp_and_gif_files_decode_beside_png() {
    cache();
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = images();
    write_image_folder(dir.path(), &train, &test, DataShape::CIFAR10, &names()).unwrap();
    // Re-encode some of the training images in the other formats, under their own names.
    let cat = dir.path().join("train/cat");
    let mut files: Vec<_> = std::fs::read_dir(&cat)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for (file, ext) in files.iter().zip(["jpg", "bmp", "webp", "gif"]) {
        let image = image::open(file).unwrap();
        image.save(file.with_extension(ext)).unwrap();
        std::fs::remove_file(file).unwrap();
    }
    let data = Dataset::load(dir.path()).unwrap();
    assert_eq!(data.train.len(), 60);
    assert_eq!(data.shape, DataShape::CIFAR10);
    // BMP, WebP (lossless) and GIF keep a colour image's pixels well enough; JPEG is lossy.
    let report = gradboard::data::inspect::inspect(&data);
    assert_eq!(report.train.per_class[3], 6);
}
