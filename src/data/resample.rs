//! Images brought to a run's shape: converted between 1 and 3 channels (grey as ITU-R BT.709
//! luma, as the `image` crate converts; PIL's "L" uses BT.601's weights) and resized with a triangle (bilinear) filter.

use super::Split;
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, RgbImage};
use rayon::prelude::*;

/// Channel-major planes (C, H, W) of u8 as an image (1 or 3 channels).
pub fn to_image(planes: &[u8], (c, h, w): (usize, usize, usize)) -> DynamicImage {
    let plane = h * w;
    match c {
        1 => DynamicImage::ImageLuma8(
            GrayImage::from_raw(w as u32, h as u32, planes[..plane].to_vec())
                .expect("a whole plane"),
        ),
        _ => {
            let mut rgb = Vec::with_capacity(3 * plane);
            for i in 0..plane {
                rgb.extend_from_slice(&[planes[i], planes[plane + i], planes[2 * plane + i]]);
            }
            DynamicImage::ImageRgb8(
                RgbImage::from_raw(w as u32, h as u32, rgb).expect("three whole planes"),
            )
        }
    }
}

/// `image` as channel-major planes of `c` channels (1 or 3), `h` x `w`.
pub fn to_planes(image: &DynamicImage, (c, h, w): (usize, usize, usize)) -> Vec<u8> {
    let sized = if (image.height() as usize, image.width() as usize) == (h, w) {
        std::borrow::Cow::Borrowed(image)
    } else {
        std::borrow::Cow::Owned(image.resize_exact(w as u32, h as u32, FilterType::Triangle))
    };
    match c {
        1 => sized.to_luma8().into_raw(),
        _ => {
            let rgb = sized.to_rgb8();
            let plane = h * w;
            let mut out = vec![0u8; 3 * plane];
            for (i, px) in rgb.pixels().enumerate() {
                out[i] = px[0];
                out[plane + i] = px[1];
                out[2 * plane + i] = px[2];
            }
            out
        }
    }
}

/// Every image of `split` (shape `from`) converted to shape `to`, labels kept.
pub fn split(split: &Split, from: (usize, usize, usize), to: (usize, usize, usize)) -> Split {
    let images: Vec<Vec<u8>> = (0..split.len())
        .into_par_iter()
        .map(|i| to_planes(&to_image(split.image(i), from), to))
        .collect();
    let bytes = to.0 * to.1 * to.2;
    let mut flat = Vec::with_capacity(images.len() * bytes);
    images.iter().for_each(|im| flat.extend_from_slice(im));
    Split::from_sized(&flat, split.labels(), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_round_trip_and_grey_is_luma() {
        let planes: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 4) as u8).collect();
        let image = to_image(&planes, (3, 4, 5));
        assert_eq!(to_planes(&image, (3, 4, 5)), planes);
        let grey = to_planes(&image, (1, 4, 5));
        assert_eq!(grey.len(), 20);
        // Pixel 0 is (0, 80, 160): BT.709 luma 0.2126 r + 0.7152 g + 0.0722 b, about 69.
        assert!((grey[0] as i32 - 69).abs() <= 1, "{}", grey[0]);
        let bigger = to_planes(&image, (3, 8, 10));
        assert_eq!(bigger.len(), 3 * 80);
    }
}
