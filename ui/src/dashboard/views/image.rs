//! CIFAR-10 images in the terminal: each cell is the upper-half block `▀` with the upper
//! pixel as its foreground and the lower pixel as its background, so a 32x32 image takes 32x16
//! cells. True colour where the terminal says it has it (`COLORTERM`), else the 256-colour
//! palette's 6x6x6 cube and grey ramp.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

/// Side of an image in pixels.
pub const SIDE: usize = 32;
/// Cells an image takes: 32 wide, 16 high.
pub const CELLS: (u16, u16) = (SIDE as u16, (SIDE / 2) as u16);

/// How colours reach the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// 24-bit colour.
    TrueColor,
    /// The xterm 256-colour palette.
    Indexed,
}

impl Palette {
    /// True colour when `COLORTERM` says `truecolor` or `24bit`, else 256 colours.
    pub fn detect() -> Palette {
        match std::env::var("COLORTERM").as_deref() {
            Ok("truecolor") | Ok("24bit") => Palette::TrueColor,
            _ => Palette::Indexed,
        }
    }

    /// The terminal colour of an RGB pixel.
    pub fn color(self, [r, g, b]: [u8; 3]) -> Color {
        match self {
            Palette::TrueColor => Color::Rgb(r, g, b),
            Palette::Indexed => Color::Indexed(xterm_index(r, g, b)),
        }
    }
}

/// The closest of the xterm palette's cube (16-231) and grey ramp (232-255) colours.
pub fn xterm_index(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let level = |v: u8| -> usize {
        LEVELS
            .iter()
            .enumerate()
            .min_by_key(|(_, &l)| (l as i32 - v as i32).abs())
            .map(|(i, _)| i)
            .unwrap_or(0)
    };
    let (ri, gi, bi) = (level(r), level(g), level(b));
    let cube = [LEVELS[ri], LEVELS[gi], LEVELS[bi]];
    let distance = |c: [u8; 3]| -> i32 {
        (c[0] as i32 - r as i32).pow(2)
            + (c[1] as i32 - g as i32).pow(2)
            + (c[2] as i32 - b as i32).pow(2)
    };
    let mean = (r as u32 + g as u32 + b as u32) / 3;
    let grey_step = ((mean.saturating_sub(8)) / 10).min(23) as u8;
    let grey = 8 + 10 * grey_step;
    if distance([grey, grey, grey]) < distance(cube) {
        232 + grey_step
    } else {
        16 + 36 * ri as u8 + 6 * gi as u8 + bi as u8
    }
}

/// The RGB pixel at (`x`, `y`) of a channel-major CIFAR image (3 planes of 32x32).
fn pixel(image: &[u8], x: usize, y: usize) -> [u8; 3] {
    let at = |c: usize| image[c * SIDE * SIDE + y * SIDE + x];
    [at(0), at(1), at(2)]
}

/// The cells of an image: 16 rows of 32 (foreground = upper pixel, background = lower).
pub fn cells(image: &[u8], palette: Palette) -> Vec<Vec<(Color, Color)>> {
    (0..SIDE / 2)
        .map(|row| {
            (0..SIDE)
                .map(|x| {
                    (
                        palette.color(pixel(image, x, 2 * row)),
                        palette.color(pixel(image, x, 2 * row + 1)),
                    )
                })
                .collect()
        })
        .collect()
}

/// Draws an image with its top-left cell at (`area.x`, `area.y`), clipped to `area`.
pub fn draw(buffer: &mut Buffer, area: Rect, image: &[u8], palette: Palette) {
    for (dy, row) in cells(image, palette).into_iter().enumerate() {
        for (dx, (top, bottom)) in row.into_iter().enumerate() {
            let (x, y) = (area.x + dx as u16, area.y + dy as u16);
            if x >= area.right() || y >= area.bottom() {
                continue;
            }
            if let Some(cell) = buffer.cell_mut((x, y)) {
                cell.set_symbol("▀")
                    .set_style(Style::new().fg(top).bg(bottom));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image whose left half is red and right half blue, with a white top row and a green
    /// bottom row.
    fn known() -> Vec<u8> {
        let mut image = vec![0u8; 3 * SIDE * SIDE];
        for y in 0..SIDE {
            for x in 0..SIDE {
                let rgb = match (y, x < 16) {
                    (0, _) => [255, 255, 255],
                    (31, _) => [0, 255, 0],
                    (_, true) => [255, 0, 0],
                    (_, false) => [0, 0, 255],
                };
                for c in 0..3 {
                    image[c * SIDE * SIDE + y * SIDE + x] = rgb[c];
                }
            }
        }
        image
    }

    #[test]
    fn a_known_image_renders_to_the_expected_cells() {
        let cells = cells(&known(), Palette::TrueColor);
        assert_eq!((cells.len(), cells[0].len()), (16, 32), "32x16 cells");
        let (white, red, blue, green) = (
            Color::Rgb(255, 255, 255),
            Color::Rgb(255, 0, 0),
            Color::Rgb(0, 0, 255),
            Color::Rgb(0, 255, 0),
        );
        assert_eq!(cells[0][0], (white, red), "row 0 over row 1, left");
        assert_eq!(cells[0][31], (white, blue));
        assert_eq!(cells[7][3], (red, red));
        assert_eq!(cells[7][20], (blue, blue));
        assert_eq!(cells[15][0], (red, green), "row 30 over row 31");
        // The 256-colour palette maps the same pixels to its cube.
        let indexed = super::cells(&known(), Palette::Indexed);
        assert_eq!(
            indexed[0][0],
            (Color::Indexed(231), Color::Indexed(196)),
            "white and red"
        );
        assert_eq!(
            indexed[7][20],
            (Color::Indexed(21), Color::Indexed(21)),
            "blue"
        );
        assert_eq!(indexed[15][31].1, Color::Indexed(46), "green");
    }

    #[test]
    fn greys_use_the_grey_ramp_and_drawing_fills_the_buffer() {
        assert_eq!(xterm_index(128, 128, 128), 244);
        assert_eq!(xterm_index(0, 0, 0), 16);
        let mut buffer = Buffer::empty(Rect::new(0, 0, 40, 20));
        draw(
            &mut buffer,
            Rect::new(2, 1, 32, 16),
            &known(),
            Palette::TrueColor,
        );
        let cell = &buffer[(2, 1)];
        assert_eq!(cell.symbol(), "▀");
        assert_eq!(cell.fg, Color::Rgb(255, 255, 255));
        assert_eq!(cell.bg, Color::Rgb(255, 0, 0));
        assert_eq!(buffer[(34, 1)].symbol(), " ", "nothing right of the image");
    }
}
