//! JSON-lines metrics (`metrics.jsonl`): each line `{"step": N, "name": value, ...}` (numbers
//! are scalars; `time` or `wall_time`, when given, the Unix seconds), and an optional
//! `{"config": {...}}` line with the run's settings. A line that is not such an object is
//! skipped and counted; a half-written last line waits until it ends with a newline.

use super::tensorboard::Point;
use std::collections::BTreeMap;

/// What a metrics file holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Scalars by name, in the order written.
    pub scalars: BTreeMap<String, Vec<Point>>,
    /// The `config` line's settings.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Lines skipped (not a JSON object of numbers).
    pub skipped: usize,
}

impl Metrics {
    /// Adds the whole lines of `text` (a last line without its newline is left out).
    pub fn add_text(&mut self, text: &str) {
        let whole = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => return,
        };
        for (n, line) in whole.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(value) => self.add_value(n, value),
                Err(_) => self.skipped += 1,
            }
        }
    }

    /// Adds one line's object (`n`: its line number, the step where it names none).
    pub fn add_value(&mut self, n: usize, value: serde_json::Value) {
        let serde_json::Value::Object(map) = value else {
            self.skipped += 1;
            return;
        };
        if let Some(serde_json::Value::Object(config)) = map.get("config") {
            self.settings.extend(config.clone());
            return;
        }
        let step = map.get("step").and_then(|s| s.as_i64()).unwrap_or(n as i64);
        let wall_time = ["time", "wall_time"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_f64()))
            .unwrap_or(0.0);
        let mut any = false;
        for (k, v) in &map {
            if matches!(k.as_str(), "step" | "time" | "wall_time") {
                continue;
            }
            // JSON has no NaN: a string "nan"/"inf" stands for one.
            let value = match v {
                serde_json::Value::Number(x) => x.as_f64(),
                serde_json::Value::String(s) => s.parse::<f64>().ok(),
                _ => None,
            };
            if let Some(value) = value {
                any = true;
                self.scalars.entry(k.clone()).or_default().push(Point {
                    step,
                    value,
                    wall_time,
                });
            }
        }
        if !any {
            self.skipped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_scalars_settings_and_garbage_is_counted() {
        let mut m = Metrics::default();
        m.add_text(
            "{\"config\": {\"lr\": 0.1}}\n{\"step\": 1, \"loss\": 2.0}\ngarbage\n{\"step\": 2, \"loss\": 1.5, \"acc\": \"nan\"}\n{\"step\": 3, \"lo",
        );
        assert_eq!(m.settings["lr"], 0.1);
        assert_eq!(m.scalars["loss"].len(), 2);
        assert!(m.scalars["acc"][0].value.is_nan());
        assert_eq!(m.skipped, 1);
    }
}
