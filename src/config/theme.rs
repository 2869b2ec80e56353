//! Colour themes: TOML files in `themes/` (built in) or the user's theme
//! directory, and their conversion for terminals with fewer colours.
//!
//! A theme names 15 palette slots (see [`Palette`]). The palette is written
//! once, in whatever colours the author likes; [`Theme::palette_for`] converts
//! it for the terminal's [`ColorDepth`] so a true-colour theme still reads
//! sensibly on a 256- or 16-colour terminal, and `NO_COLOR` turns colour off.

use std::ops::Range;
use std::path::{Path, PathBuf};

use ratatui::style::Color;
use serde::Deserialize;
use toml::Spanned;

/// How many colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    /// No colour at all (`NO_COLOR`, `TERM=dumb`): meaning must come from
    /// bold/reverse/underline.
    NoColor,
    /// The 16 ANSI colours, drawn from the user's terminal palette.
    Ansi16,
    /// The xterm 256-colour palette.
    Ansi256,
    /// 24-bit colour.
    TrueColor,
}

impl ColorDepth {
    /// Decide the colour depth from environment values (pass the results of
    /// `std::env::var` so this stays testable):
    ///
    /// - `NO_COLOR` set and non-empty → [`NoColor`](Self::NoColor)
    ///   (<https://no-color.org>), whatever else is set;
    /// - `TERM=dumb` → [`NoColor`](Self::NoColor);
    /// - `COLORTERM` `truecolor` or `24bit` → [`TrueColor`](Self::TrueColor);
    /// - `TERM` containing `256color` → [`Ansi256`](Self::Ansi256);
    /// - anything else (xterm, screen, linux, vt100, unset) →
    ///   [`Ansi16`](Self::Ansi16).
    pub fn detect(
        no_color: Option<&str>,
        colorterm: Option<&str>,
        term: Option<&str>,
    ) -> ColorDepth {
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ColorDepth::NoColor;
        }
        let term = term.map(str::trim).unwrap_or_default();
        if term.eq_ignore_ascii_case("dumb") {
            return ColorDepth::NoColor;
        }
        let colorterm = colorterm.map(str::trim).unwrap_or_default();
        if colorterm.eq_ignore_ascii_case("truecolor") || colorterm.eq_ignore_ascii_case("24bit") {
            return ColorDepth::TrueColor;
        }
        if term.to_ascii_lowercase().contains("256color") {
            return ColorDepth::Ansi256;
        }
        ColorDepth::Ansi16
    }

    /// [`detect`](Self::detect) from the process environment (`NO_COLOR`,
    /// `COLORTERM`, `TERM`).
    pub fn from_env() -> ColorDepth {
        // NO_COLOR counts when set to anything non-empty, even non-UTF-8.
        let no_color = std::env::var_os("NO_COLOR").map(|v| v.to_string_lossy().into_owned());
        let colorterm = std::env::var("COLORTERM").ok();
        let term = std::env::var("TERM").ok();
        ColorDepth::detect(no_color.as_deref(), colorterm.as_deref(), term.as_deref())
    }
}

/// The colour slots a theme must fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    /// Normal text.
    pub fg: Color,
    /// Screen background; usually `Reset` (the terminal's default).
    pub bg: Color,
    /// Secondary text: hints, timestamps, disabled items.
    pub muted: Color,
    /// Titles, key hints, highlighted values.
    pub accent: Color,
    /// Borders of unfocused panes.
    pub border: Color,
    /// Border of the focused pane.
    pub border_focused: Color,
    /// Text of the selected row.
    pub selection_fg: Color,
    /// Background of the selected row.
    pub selection_bg: Color,
    /// Production, deletes, failures.
    pub danger: Color,
    /// In-progress, rollback.
    pub warning: Color,
    /// Complete, succeeded.
    pub ok: Color,
    /// Informational messages.
    pub info: Color,
    /// The READ-ONLY badge and the reason shown for greyed-out actions.
    pub read_only: Color,
    /// Status bar text.
    pub status_fg: Color,
    /// Status bar background.
    pub status_bg: Color,
}

impl Palette {
    /// Every slot with its key in the theme file, in file order. Handy for
    /// previews and tests.
    pub fn slots(&self) -> [(&'static str, Color); 15] {
        [
            ("fg", self.fg),
            ("bg", self.bg),
            ("muted", self.muted),
            ("accent", self.accent),
            ("border", self.border),
            ("border_focused", self.border_focused),
            ("selection_fg", self.selection_fg),
            ("selection_bg", self.selection_bg),
            ("danger", self.danger),
            ("warning", self.warning),
            ("ok", self.ok),
            ("info", self.info),
            ("read_only", self.read_only),
            ("status_fg", self.status_fg),
            ("status_bg", self.status_bg),
        ]
    }

    /// Apply `f` to every slot.
    fn map(&self, f: impl Fn(Color) -> Color) -> Palette {
        Palette {
            fg: f(self.fg),
            bg: f(self.bg),
            muted: f(self.muted),
            accent: f(self.accent),
            border: f(self.border),
            border_focused: f(self.border_focused),
            selection_fg: f(self.selection_fg),
            selection_bg: f(self.selection_bg),
            danger: f(self.danger),
            warning: f(self.warning),
            ok: f(self.ok),
            info: f(self.info),
            read_only: f(self.read_only),
            status_fg: f(self.status_fg),
            status_bg: f(self.status_bg),
        }
    }
}

/// A loaded theme.
#[derive(Debug, Clone)]
pub struct Theme {
    /// The `name` written in the file.
    pub name: String,
    /// One line for the theme picker.
    pub description: String,
    /// The palette as written in the file; use [`Theme::palette_for`] to draw.
    pub palette: Palette,
}

/// Themes compiled into the binary, in the order a picker should show them.
pub const BUILTIN_THEMES: &[&str] = &["dark", "light", "high-contrast", "ansi16"];

/// The text of a built-in theme file.
fn builtin_source(name: &str) -> Option<&'static str> {
    Some(match name {
        "dark" => include_str!("../../themes/dark.toml"),
        "light" => include_str!("../../themes/light.toml"),
        "high-contrast" => include_str!("../../themes/high-contrast.toml"),
        "ansi16" => include_str!("../../themes/ansi16.toml"),
        _ => return None,
    })
}

/// What can go wrong finding or reading a theme. Every message names the
/// file, and where possible the line, column and key.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// No user theme file and no built-in theme of that name.
    #[error("unknown theme \"{name}\" (available: {})", available.join(", "))]
    Unknown {
        name: String,
        /// What [`Theme::available`] offered, sorted.
        available: Vec<String>,
    },
    /// The user's theme file exists but could not be read (or is a FIFO, a device, too
    /// large, not UTF-8). The message names the file and says why, once.
    #[error("{0}")]
    Read(crate::files::FileError),
    /// Not valid TOML, an unknown key, a missing slot or a value of the wrong
    /// type. `message` is the TOML parser's and names the key.
    #[error("{}{}: {message}", path.display(), location_suffix(*location))]
    Syntax {
        path: PathBuf,
        /// 1-based (line, column), when the parser could say where.
        location: Option<(usize, usize)>,
        message: String,
    },
    /// A palette value that is not a colour.
    #[error(
        "{}:{line}:{column}: {key}: {value} is not a colour \
         (expected #rrggbb, 0-255, reset or a colour name)",
        path.display()
    )]
    BadColour {
        path: PathBuf,
        line: usize,
        column: usize,
        /// Dotted key, e.g. `palette.danger`.
        key: String,
        /// The value as TOML, e.g. `"#ff00"` (with the quotes) or `true`.
        value: String,
    },
}

fn location_suffix(location: Option<(usize, usize)>) -> String {
    match location {
        Some((line, column)) => format!(":{line}:{column}"),
        None => String::new(),
    }
}

/// 1-based line and column (in characters) of byte offset `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The file as written: values with their positions, so a bad colour can be
/// reported at its line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    name: String,
    description: String,
    palette: RawPalette,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPalette {
    fg: Spanned<toml::Value>,
    bg: Spanned<toml::Value>,
    muted: Spanned<toml::Value>,
    accent: Spanned<toml::Value>,
    border: Spanned<toml::Value>,
    border_focused: Spanned<toml::Value>,
    selection_fg: Spanned<toml::Value>,
    selection_bg: Spanned<toml::Value>,
    danger: Spanned<toml::Value>,
    warning: Spanned<toml::Value>,
    ok: Spanned<toml::Value>,
    info: Spanned<toml::Value>,
    read_only: Spanned<toml::Value>,
    status_fg: Spanned<toml::Value>,
    status_bg: Spanned<toml::Value>,
}

impl RawPalette {
    fn resolve(&self, text: &str, origin: &Path) -> Result<Palette, ThemeError> {
        let colour = |key: &str, value: &Spanned<toml::Value>| -> Result<Color, ThemeError> {
            let parsed = match value.get_ref() {
                toml::Value::String(s) => parse_color(s),
                // An unquoted index is what people write; take it rather than
                // reject `236` with a message that says 0-255 is allowed.
                toml::Value::Integer(i) => u8::try_from(*i).ok().map(Color::Indexed),
                _ => None,
            };
            parsed.ok_or_else(|| {
                let span: Range<usize> = value.span();
                let (line, column) = line_column(text, span.start);
                ThemeError::BadColour {
                    path: origin.to_path_buf(),
                    line,
                    column,
                    key: format!("palette.{key}"),
                    value: value.get_ref().to_string(),
                }
            })
        };
        Ok(Palette {
            fg: colour("fg", &self.fg)?,
            bg: colour("bg", &self.bg)?,
            muted: colour("muted", &self.muted)?,
            accent: colour("accent", &self.accent)?,
            border: colour("border", &self.border)?,
            border_focused: colour("border_focused", &self.border_focused)?,
            selection_fg: colour("selection_fg", &self.selection_fg)?,
            selection_bg: colour("selection_bg", &self.selection_bg)?,
            danger: colour("danger", &self.danger)?,
            warning: colour("warning", &self.warning)?,
            ok: colour("ok", &self.ok)?,
            info: colour("info", &self.info)?,
            read_only: colour("read_only", &self.read_only)?,
            status_fg: colour("status_fg", &self.status_fg)?,
            status_bg: colour("status_bg", &self.status_bg)?,
        })
    }
}

/// The 16 ANSI names in index order (0-15), as accepted in theme files.
const ANSI_NAMES: [(&str, Color); 16] = [
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("darkgray", Color::DarkGray),
    ("lightred", Color::LightRed),
    ("lightgreen", Color::LightGreen),
    ("lightyellow", Color::LightYellow),
    ("lightblue", Color::LightBlue),
    ("lightmagenta", Color::LightMagenta),
    ("lightcyan", Color::LightCyan),
    ("white", Color::White),
];

/// Parse a theme colour value: `#rrggbb`, an index `0`-`255`, `reset`, or one
/// of the 16 ANSI names (case-insensitive; `grey`/`darkgrey` accepted).
pub fn parse_color(value: &str) -> Option<Color> {
    if let Some(hex) = value.strip_prefix('#') {
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        return Some(Color::Rgb(channel(0)?, channel(2)?, channel(4)?));
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u8>().ok().map(Color::Indexed);
    }
    let lower = value.to_ascii_lowercase();
    let name = match lower.as_str() {
        "reset" => return Some(Color::Reset),
        "grey" => "gray",
        "darkgrey" => "darkgray",
        other => other,
    };
    ANSI_NAMES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

impl Theme {
    /// Load theme `name`. A user theme file `<user_dir>/<name>.toml` wins over
    /// the built-in theme of that name; a user file that exists but is broken
    /// is an error, not a silent fall-back to the built-in.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        if let Some(dir) = user_dir.filter(|_| is_plain_name(name)) {
            let path = dir.join(format!("{name}.toml"));
            match crate::files::read_text(&path, crate::files::FileKind::Theme) {
                Ok(text) => return Theme::from_toml_str(&text, &path),
                Err(e) if e.is_missing() => {}
                Err(e) => return Err(ThemeError::Read(e)),
            }
        }
        if let Some(text) = builtin_source(name) {
            return Theme::from_toml_str(text, &builtin_origin(name));
        }
        Err(ThemeError::Unknown {
            name: name.to_string(),
            available: Theme::available(user_dir),
        })
    }

    /// Parse a theme file's text. `origin` is only used in error messages.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Theme, ThemeError> {
        let raw: RawTheme = toml::from_str(text).map_err(|e| ThemeError::Syntax {
            path: origin.to_path_buf(),
            location: e.span().map(|span| line_column(text, span.start)),
            message: e.message().trim().to_string(),
        })?;
        let palette = raw.palette.resolve(text, origin)?;
        Ok(Theme {
            name: raw.name,
            description: raw.description,
            palette,
        })
    }

    /// A built-in theme, or `None` if there is none of that name.
    pub fn builtin(name: &str) -> Option<Theme> {
        // The built-in files are checked by `every_builtin_theme_parses`.
        Theme::from_toml_str(builtin_source(name)?, &builtin_origin(name)).ok()
    }

    /// Names of the built-in themes plus the `*.toml` stems in `user_dir`,
    /// sorted and deduplicated. An unreadable directory adds nothing.
    pub fn available(user_dir: Option<&Path>) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN_THEMES.iter().map(|n| n.to_string()).collect();
        if let Some(entries) = user_dir.and_then(|dir| std::fs::read_dir(dir).ok()) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "toml")
                    && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                    && is_plain_name(stem)
                {
                    names.push(stem.to_string());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// The palette converted for a terminal of `depth`:
    ///
    /// - `TrueColor`: unchanged.
    /// - `Ansi256`: `Rgb` becomes the nearest xterm-256 index (6×6×6 cube or
    ///   grey ramp, whichever is closer); names and indices are kept.
    /// - `Ansi16`: `Rgb` and `Indexed` become one of the 16 named colours,
    ///   chosen by hue and lightness rather than plain RGB distance, so a
    ///   pastel red stays red instead of turning grey.
    /// - `NoColor`: every slot is `Reset`; the UI must then convey meaning
    ///   with bold/reverse/underline.
    pub fn palette_for(&self, depth: ColorDepth) -> Palette {
        match depth {
            ColorDepth::TrueColor => self.palette.clone(),
            ColorDepth::Ansi256 => self.palette.map(to_ansi256),
            ColorDepth::Ansi16 => self.palette.map(to_ansi16),
            ColorDepth::NoColor => self.palette.map(|_| Color::Reset),
        }
    }
}

fn builtin_origin(name: &str) -> PathBuf {
    PathBuf::from(format!("<built-in>/themes/{name}.toml"))
}

/// A theme name usable as a file stem: no path separators, not hidden.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\'])
}

/// Channel levels of the xterm 6×6×6 colour cube (indices 16-231).
const CUBE_LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn distance2((r1, g1, b1): (u8, u8, u8), (r2, g2, b2): (u8, u8, u8)) -> u32 {
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).unsigned_abs().pow(2);
    d(r1, r2) + d(g1, g2) + d(b1, b2)
}

/// The nearest xterm-256 index to an RGB colour, from the colour cube or the
/// grey ramp (232-255), whichever is closer. The first 16 indices are left out
/// because their look depends on the user's palette.
fn nearest_256(rgb: (u8, u8, u8)) -> u8 {
    let level = |v: u8| -> usize {
        let mut best = 0;
        for (i, l) in CUBE_LEVELS.iter().enumerate() {
            if l.abs_diff(v) < CUBE_LEVELS[best].abs_diff(v) {
                best = i;
            }
        }
        best
    };
    let (ri, gi, bi) = (level(rgb.0), level(rgb.1), level(rgb.2));
    let cube_rgb = (CUBE_LEVELS[ri], CUBE_LEVELS[gi], CUBE_LEVELS[bi]);
    // ri, gi, bi are < 6, so the index is at most 16 + 215 = 231.
    let cube_index = (16 + 36 * ri + 6 * gi + bi) as u8;

    // Grey ramp: index 232 + i has level 8 + 10 * i, i in 0..24.
    let mean = (u32::from(rgb.0) + u32::from(rgb.1) + u32::from(rgb.2)) / 3;
    let step = (mean.saturating_sub(8) + 5) / 10;
    let step = step.min(23) as u8;
    let grey_level = 8 + 10 * step;
    let grey_index = 232 + step;

    if distance2(rgb, (grey_level, grey_level, grey_level)) < distance2(rgb, cube_rgb) {
        grey_index
    } else {
        cube_index
    }
}

/// The RGB value xterm uses for a 256-colour index (for 16-255; the first 16
/// are the terminal's own palette and are never converted through RGB).
fn index_to_rgb(index: u8) -> (u8, u8, u8) {
    match index {
        16..=231 => {
            let i = usize::from(index - 16);
            (
                CUBE_LEVELS[i / 36],
                CUBE_LEVELS[(i / 6) % 6],
                CUBE_LEVELS[i % 6],
            )
        }
        232..=255 => {
            let v = 8 + 10 * (index - 232);
            (v, v, v)
        }
        // 0-15: xterm's defaults, only as a fall-back.
        _ => {
            const XTERM16: [(u8, u8, u8); 16] = [
                (0, 0, 0),
                (205, 0, 0),
                (0, 205, 0),
                (205, 205, 0),
                (0, 0, 238),
                (205, 0, 205),
                (0, 205, 205),
                (229, 229, 229),
                (127, 127, 127),
                (255, 0, 0),
                (0, 255, 0),
                (255, 255, 0),
                (92, 92, 255),
                (255, 0, 255),
                (0, 255, 255),
                (255, 255, 255),
            ];
            XTERM16[usize::from(index & 15)]
        }
    }
}

fn to_ansi256(colour: Color) -> Color {
    match colour {
        Color::Rgb(r, g, b) => Color::Indexed(nearest_256((r, g, b))),
        other => other,
    }
}

/// Convert to one of the 16 named colours. Indices 0-15 map to their names.
/// Other colours go through RGB and are matched by hue and lightness rather
/// than plain RGB distance: the 16 colours differ wildly between terminal
/// palettes, and RGB distance sends pastel colours (a soft red meant for
/// "danger") to grey, losing their meaning.
///
/// - Low-chroma colours become black, darkgray, gray or white by luminance.
/// - Others take the hue family (red, yellow, green, cyan, blue, magenta) and
///   the bright variant when they are bright or pale.
fn to_ansi16(colour: Color) -> Color {
    let (r, g, b) = match colour {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) if i < 16 => return ANSI_NAMES[usize::from(i)].1,
        Color::Indexed(i) => index_to_rgb(i),
        named_or_reset => return named_or_reset,
    };
    let (rf, gf, bf) = (f32::from(r), f32::from(g), f32::from(b));
    let max = rf.max(gf).max(bf);
    let min = rf.min(gf).min(bf);
    let chroma = max - min;

    if chroma < 64.0 {
        let luma = 0.2126 * rf + 0.7152 * gf + 0.0722 * bf;
        return match luma {
            l if l < 60.0 => Color::Black,
            l if l < 150.0 => Color::DarkGray,
            l if l < 235.0 => Color::Gray,
            _ => Color::White,
        };
    }

    // Hue in degrees, 0..360.
    let hue = if max == rf {
        60.0 * ((gf - bf) / chroma).rem_euclid(6.0)
    } else if max == gf {
        60.0 * ((bf - rf) / chroma + 2.0)
    } else {
        60.0 * ((rf - gf) / chroma + 4.0)
    };
    // Yellow is a narrow band to the eye and blue a wide one, so the
    // boundaries are not evenly spaced: orange counts as yellow, lime as
    // green, lavender as blue-ish until it turns clearly purple.
    let (normal, light) = match hue {
        h if !(20.0..330.0).contains(&h) => (Color::Red, Color::LightRed),
        h if h < 75.0 => (Color::Yellow, Color::LightYellow),
        h if h < 165.0 => (Color::Green, Color::LightGreen),
        h if h < 210.0 => (Color::Cyan, Color::LightCyan),
        h if h < 255.0 => (Color::Blue, Color::LightBlue),
        _ => (Color::Magenta, Color::LightMagenta),
    };
    let lightness = (max + min) / 2.0;
    if max >= 230.0 || lightness >= 170.0 {
        light
    } else {
        normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_named_or_reset(c: Color) -> bool {
        !matches!(c, Color::Rgb(..) | Color::Indexed(_))
    }

    const GOOD: &str = r##"name = "mine"
description = "test theme"

[palette]
fg = "#c0caf5"
bg = "reset"
muted = "8"
accent = "LightBlue"
border = "grey"
border_focused = "darkgrey"
selection_fg = "black"
selection_bg = "#7AA2F7"
danger = "#f7768e"
warning = "yellow"
ok = "green"
info = "cyan"
read_only = "magenta"
status_fg = "white"
status_bg = "236"
"##;

    #[test]
    fn every_builtin_theme_parses() {
        for name in BUILTIN_THEMES {
            let theme = Theme::builtin(name).unwrap_or_else(|| panic!("built-in {name} missing"));
            assert_eq!(theme.name, *name, "name field of built-in {name}");
            assert!(!theme.description.is_empty(), "{name} has a description");
            assert_eq!(theme.palette.slots().len(), 15);
            // And the strict path used for errors agrees.
            let text = builtin_source(name).unwrap();
            Theme::from_toml_str(text, &builtin_origin(name)).unwrap();
            let loaded = Theme::load(name, None).unwrap();
            assert_eq!(loaded.palette, theme.palette);
        }
        assert!(Theme::builtin("nope").is_none());
    }

    #[test]
    fn ansi16_theme_uses_only_named_colours() {
        let theme = Theme::builtin("ansi16").unwrap();
        for (key, colour) in theme.palette.slots() {
            assert!(
                is_named_or_reset(colour),
                "ansi16 palette.{key} is {colour:?}"
            );
        }
        // So every depth except NoColor leaves it alone.
        for depth in [
            ColorDepth::Ansi16,
            ColorDepth::Ansi256,
            ColorDepth::TrueColor,
        ] {
            assert_eq!(theme.palette_for(depth), theme.palette);
        }
    }

    /// WCAG relative luminance.
    fn luminance(c: Color) -> f64 {
        let Color::Rgb(r, g, b) = c else {
            panic!("expected an Rgb colour, got {c:?}")
        };
        let lin = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    }

    fn contrast(a: Color, b: Color) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn high_contrast_theme_meets_wcag_aaa() {
        let p = Theme::builtin("high-contrast").unwrap().palette;
        assert_eq!(p.bg, Color::Rgb(0, 0, 0));
        assert_eq!(p.fg, Color::Rgb(255, 255, 255));
        for (key, colour) in p.slots() {
            if matches!(
                key,
                "bg" | "selection_fg" | "selection_bg" | "status_fg" | "status_bg"
            ) {
                continue;
            }
            let ratio = contrast(colour, p.bg);
            assert!(ratio >= 7.0, "palette.{key} contrast {ratio:.2} on bg");
        }
        assert!(contrast(p.selection_fg, p.selection_bg) >= 7.0);
        assert!(contrast(p.status_fg, p.status_bg) >= 7.0);
        // Exact xterm-256 colours, so 256-colour terminals keep them.
        for (key, colour) in p.slots() {
            let Color::Indexed(i) = to_ansi256(colour) else {
                unreachable!()
            };
            assert_eq!(
                index_to_rgb(i),
                match colour {
                    Color::Rgb(r, g, b) => (r, g, b),
                    _ => unreachable!(),
                },
                "palette.{key}"
            );
        }
    }

    #[test]
    fn detect_colour_depth() {
        use ColorDepth::*;
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            ColorDepth,
        );
        let cases: &[Case] = &[
            // NO_COLOR wins over everything.
            (
                Some("1"),
                Some("truecolor"),
                Some("xterm-256color"),
                NoColor,
            ),
            (Some("yes"), None, None, NoColor),
            // Empty NO_COLOR is ignored.
            (
                Some(""),
                Some("truecolor"),
                Some("xterm-256color"),
                TrueColor,
            ),
            (Some(""), None, Some("xterm"), Ansi16),
            (None, Some("truecolor"), Some("xterm-256color"), TrueColor),
            (None, Some("24bit"), Some("xterm"), TrueColor),
            (None, Some("TrueColor"), None, TrueColor),
            (None, Some("yes"), Some("xterm"), Ansi16),
            (None, None, Some("tmux-256color"), Ansi256),
            (None, None, Some("xterm-256color"), Ansi256),
            (None, None, Some("screen-256color"), Ansi256),
            (None, None, Some("screen"), Ansi16),
            (None, None, Some("xterm"), Ansi16),
            (None, None, Some("linux"), Ansi16),
            (None, None, Some("vt100"), Ansi16),
            (None, None, Some("dumb"), NoColor),
            (None, Some("truecolor"), Some("dumb"), NoColor),
            (None, None, Some(""), Ansi16),
            (None, None, None, Ansi16),
        ];
        for &(no_color, colorterm, term, want) in cases {
            assert_eq!(
                ColorDepth::detect(no_color, colorterm, term),
                want,
                "NO_COLOR={no_color:?} COLORTERM={colorterm:?} TERM={term:?}"
            );
        }
    }

    #[test]
    fn parse_colour_values() {
        assert_eq!(parse_color("#ff0000"), Some(Color::Rgb(255, 0, 0)));
        assert_eq!(parse_color("#7AA2f7"), Some(Color::Rgb(0x7a, 0xa2, 0xf7)));
        assert_eq!(parse_color("0"), Some(Color::Indexed(0)));
        assert_eq!(parse_color("255"), Some(Color::Indexed(255)));
        assert_eq!(parse_color("reset"), Some(Color::Reset));
        assert_eq!(parse_color("RESET"), Some(Color::Reset));
        assert_eq!(parse_color("LightRed"), Some(Color::LightRed));
        assert_eq!(parse_color("grey"), Some(Color::Gray));
        assert_eq!(parse_color("DarkGrey"), Some(Color::DarkGray));
        assert_eq!(parse_color("darkgray"), Some(Color::DarkGray));
        for bad in [
            "#ff00",
            "#ff00000",
            "#gg0000",
            "ff0000",
            "256",
            "-1",
            "+1",
            "",
            "light red",
            "orange",
            "#ff0000 ",
        ] {
            assert_eq!(parse_color(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn palette_for_no_color_is_all_reset() {
        for name in BUILTIN_THEMES {
            let p = Theme::builtin(name)
                .unwrap()
                .palette_for(ColorDepth::NoColor);
            for (key, colour) in p.slots() {
                assert_eq!(colour, Color::Reset, "{name} palette.{key}");
            }
        }
    }

    #[test]
    fn palette_for_ansi16_leaves_only_names() {
        let mut themes: Vec<Theme> = BUILTIN_THEMES
            .iter()
            .map(|n| Theme::builtin(n).unwrap())
            .collect();
        themes.push(Theme::from_toml_str(GOOD, Path::new("mine.toml")).unwrap());
        for theme in &themes {
            for (key, colour) in theme.palette_for(ColorDepth::Ansi16).slots() {
                assert!(
                    is_named_or_reset(colour),
                    "{} palette.{key} is {colour:?}",
                    theme.name
                );
            }
        }
        // Every possible index and a sweep of RGB values too.
        for i in 0..=255u8 {
            assert!(is_named_or_reset(to_ansi16(Color::Indexed(i))));
        }
        for r in (0..=255u8).step_by(15) {
            for g in (0..=255u8).step_by(15) {
                for b in (0..=255u8).step_by(15) {
                    assert!(is_named_or_reset(to_ansi16(Color::Rgb(r, g, b))));
                }
            }
        }
    }

    #[test]
    fn palette_for_ansi256_leaves_no_rgb() {
        for name in BUILTIN_THEMES {
            let theme = Theme::builtin(name).unwrap();
            for (key, colour) in theme.palette_for(ColorDepth::Ansi256).slots() {
                assert!(
                    !matches!(colour, Color::Rgb(..)),
                    "{name} palette.{key} is {colour:?}"
                );
            }
        }
    }

    #[test]
    fn palette_for_true_colour_is_unchanged() {
        let theme = Theme::builtin("dark").unwrap();
        assert_eq!(theme.palette_for(ColorDepth::TrueColor), theme.palette);
    }

    #[test]
    fn ansi256_known_mappings() {
        let cases = [
            ((255, 0, 0), 196),
            ((0, 255, 0), 46),
            ((0, 0, 255), 21),
            ((0, 0, 0), 16),
            ((255, 255, 255), 231),
            ((128, 128, 128), 244), // grey ramp: 8 + 10 * 12 = 128
            ((0x1a, 0x1b, 0x26), 234),
            ((0x5f, 0x87, 0xd7), 68), // exact cube colour
            ((0xee, 0xee, 0xee), 255),
        ];
        for ((r, g, b), want) in cases {
            assert_eq!(
                to_ansi256(Color::Rgb(r, g, b)),
                Color::Indexed(want),
                "#{r:02x}{g:02x}{b:02x}"
            );
        }
        // Named and indexed colours are kept as they are.
        assert_eq!(to_ansi256(Color::LightRed), Color::LightRed);
        assert_eq!(to_ansi256(Color::Indexed(3)), Color::Indexed(3));
        assert_eq!(to_ansi256(Color::Reset), Color::Reset);
        // Every cube and ramp colour maps back to its own index.
        for i in 16..=255u8 {
            let (r, g, b) = index_to_rgb(i);
            assert_eq!(
                to_ansi256(Color::Rgb(r, g, b)),
                Color::Indexed(i),
                "index {i}"
            );
        }
    }

    #[test]
    fn ansi16_known_mappings() {
        let cases = [
            (Color::Rgb(255, 0, 0), Color::LightRed),
            (Color::Rgb(205, 0, 0), Color::Red),
            (Color::Rgb(128, 0, 0), Color::Red),
            (Color::Rgb(0, 0, 0), Color::Black),
            (Color::Rgb(255, 255, 255), Color::White),
            (Color::Rgb(128, 128, 128), Color::DarkGray),
            (Color::Rgb(200, 200, 200), Color::Gray),
            (Color::Indexed(196), Color::LightRed),
            (Color::Indexed(1), Color::Red),
            (Color::Indexed(8), Color::DarkGray),
            (Color::Indexed(15), Color::White),
            (Color::Indexed(16), Color::Black),
            (Color::Indexed(231), Color::White),
            (Color::Indexed(232), Color::Black),
            (Color::Indexed(255), Color::White),
            (Color::Reset, Color::Reset),
            (Color::Cyan, Color::Cyan),
        ];
        for (from, want) in cases {
            assert_eq!(to_ansi16(from), want, "{from:?}");
        }
        // The dark theme keeps its meaning on a 16-colour terminal.
        let p = Theme::builtin("dark")
            .unwrap()
            .palette_for(ColorDepth::Ansi16);
        assert_eq!(p.danger, Color::LightRed);
        assert!(matches!(p.warning, Color::Yellow | Color::LightYellow));
        assert!(matches!(p.ok, Color::Green | Color::LightGreen));
        assert!(matches!(p.info, Color::Cyan | Color::LightCyan));
        assert!(matches!(p.accent, Color::Blue | Color::LightBlue));
        assert_eq!(p.bg, Color::Reset);
        // And the light theme too.
        let p = Theme::builtin("light")
            .unwrap()
            .palette_for(ColorDepth::Ansi16);
        assert_eq!(p.danger, Color::Red);
        assert!(matches!(p.ok, Color::Green));
        assert!(matches!(p.accent, Color::Blue));
    }

    #[test]
    fn user_theme_overrides_builtin() {
        let dir = tempfile::tempdir().unwrap();
        let text = GOOD.replace("name = \"mine\"", "name = \"dark\"");
        std::fs::write(dir.path().join("dark.toml"), &text).unwrap();
        std::fs::write(dir.path().join("mine.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a theme").unwrap();

        let theme = Theme::load("dark", Some(dir.path())).unwrap();
        assert_eq!(theme.description, "test theme");
        assert_eq!(theme.palette.muted, Color::Indexed(8));
        assert_ne!(theme.palette, Theme::builtin("dark").unwrap().palette);

        let mine = Theme::load("mine", Some(dir.path())).unwrap();
        assert_eq!(mine.name, "mine");
        // Built-ins not overridden still load with a user dir.
        assert_eq!(
            Theme::load("light", Some(dir.path())).unwrap().name,
            "light"
        );

        assert_eq!(
            Theme::available(Some(dir.path())),
            ["ansi16", "dark", "high-contrast", "light", "mine"]
        );
        assert_eq!(
            Theme::available(None),
            ["ansi16", "dark", "high-contrast", "light"]
        );
        assert_eq!(Theme::available(Some(&dir.path().join("missing"))).len(), 4);
    }

    #[test]
    fn broken_user_theme_is_an_error_not_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dark.toml"), "name = ").unwrap();
        let err = Theme::load("dark", Some(dir.path())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&dir.path().join("dark.toml").display().to_string()),
            "{msg}"
        );
        assert!(
            matches!(
                err,
                ThemeError::Syntax {
                    location: Some((1, _)),
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_fifo_or_device_theme_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&dir.path().join("pipe.toml"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.toml")).unwrap();
        std::fs::create_dir(dir.path().join("folder.toml")).unwrap();
        for (name, says) in [
            ("pipe", "a FIFO (named pipe)"),
            ("zero", "a character device"),
            ("folder", "a directory"),
        ] {
            let themes = dir.path().to_path_buf();
            let err = crate::files::bounded(move || Theme::load(name, Some(&themes)))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("{name}.toml: cannot read this theme file")),
                "{err}"
            );
            assert!(err.contains(says), "{err}");
            // Said once, not once by the message and again by its source.
            assert_eq!(err.matches(says).count(), 1, "{err}");
        }
    }

    #[test]
    fn unknown_theme_lists_available() {
        let err = Theme::load("solarised", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown theme \"solarised\" (available: ansi16, dark, high-contrast, light)"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.toml"), GOOD).unwrap();
        let err = Theme::load("solarised", Some(dir.path())).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("(available: ansi16, dark, high-contrast, light, mine)"),
            "{err}"
        );
        // Names that are not file stems never reach the file system.
        let err = Theme::load("../dark", Some(dir.path())).unwrap_err();
        assert!(matches!(err, ThemeError::Unknown { .. }), "{err:?}");
    }

    #[test]
    fn bad_colour_error_names_file_line_and_key() {
        let text = GOOD.replace(r##"danger = "#f7768e""##, r##"danger = "#ff00""##);
        let path = Path::new("/home/a/.config/opsdeck/themes/mine.toml");
        let err = Theme::from_toml_str(&text, path).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/home/a/.config/opsdeck/themes/mine.toml:13:10: palette.danger: \"#ff00\" is not a colour \
             (expected #rrggbb, 0-255, reset or a colour name)"
        );
        assert!(
            matches!(&err, ThemeError::BadColour { line: 13, column: 10, key, .. } if key == "palette.danger")
        );
    }

    #[test]
    fn unknown_key_error_has_line() {
        let text = GOOD.replace("info = \"cyan\"", "info = \"cyan\"\nsparkle = \"red\"");
        let err = Theme::from_toml_str(&text, Path::new("mine.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("mine.toml:17:1: "), "{msg}");
        assert!(msg.contains("sparkle"), "{msg}");

        let text = GOOD.replace("name = \"mine\"", "name = \"mine\"\nauthor = \"me\"");
        let msg = Theme::from_toml_str(&text, Path::new("mine.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("mine.toml:2:1: "), "{msg}");
        assert!(msg.contains("author"), "{msg}");
    }

    #[test]
    fn missing_slot_is_an_error() {
        let text = GOOD.replace("ok = \"green\"\n", "");
        let msg = Theme::from_toml_str(&text, Path::new("mine.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("mine.toml"), "{msg}");
        assert!(msg.contains("ok"), "{msg}");
    }

    #[test]
    fn wrong_type_and_bad_toml_have_lines() {
        // Unquoted indices are accepted; other types are named bad colours.
        let text = GOOD.replace("ok = \"green\"", "ok = 2");
        let theme = Theme::from_toml_str(&text, Path::new("mine.toml")).unwrap();
        assert_eq!(theme.palette.ok, Color::Indexed(2));
        for value in ["256", "-1", "true", "[1]"] {
            let text = GOOD.replace("ok = \"green\"", &format!("ok = {value}"));
            let msg = Theme::from_toml_str(&text, Path::new("mine.toml"))
                .unwrap_err()
                .to_string();
            let want = format!("mine.toml:15:6: palette.ok: {value} is not a colour");
            assert!(msg.starts_with(&want), "{msg}");
        }

        let text = GOOD.replace("name = \"mine\"", "name = 1");
        let msg = Theme::from_toml_str(&text, Path::new("mine.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("mine.toml:1:8: "), "{msg}");

        let text = GOOD.replace("ok = \"green\"", "ok = \"green");
        let msg = Theme::from_toml_str(&text, Path::new("mine.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("mine.toml:15:"), "{msg}");
    }

    #[test]
    fn line_column_counts_characters() {
        let text = "a\nbé = x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 2), (2, 1));
        // 'x' is at byte 8 (é is two bytes) but column 6.
        assert_eq!(line_column(text, 8), (2, 6));
        assert_eq!(line_column(text, 999), (3, 1));
    }
}
