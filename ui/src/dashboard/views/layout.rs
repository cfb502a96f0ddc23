//! Where popups go: a centred rectangle, and a bordered text popup in it. Every popup uses
//! these, so they share one layout.

use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// A `width` x `height` rectangle in the middle of `area` (clipped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// A popup of `text` under `title`, `width` x `height` in the middle of `area`.
pub fn popup_text(frame: &mut Frame, area: Rect, title: &str, text: &str, width: u16, height: u16) {
    let r = centered(area, width, height);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(text.to_string())
            .block(Block::bordered().title(format!(" {title} ")))
            .wrap(Wrap { trim: false }),
        r,
    );
}
