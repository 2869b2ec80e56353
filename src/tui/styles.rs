//! The theme's palette resolved once into ratatui styles. With `NO_COLOR` every style falls back
//! to modifiers (bold, reverse, underline, dim), so danger and read-only still stand out.

use crate::cfn::model::StatusClass;
use crate::config::theme::{ColorDepth, Palette};
use ratatui::style::{Modifier, Style};

#[derive(Debug, Clone, PartialEq)]
pub struct Styles {
    pub base: Style,
    pub muted: Style,
    pub border: Style,
    pub border_focused: Style,
    pub title: Style,
    pub title_focused: Style,
    pub selection: Style,
    pub header: Style,
    pub danger: Style,
    pub warning: Style,
    pub ok: Style,
    pub info: Style,
    /// The READ-ONLY badge.
    pub read_only: Style,
    /// An action that is refused in read-only mode: shown, but greyed.
    pub disabled: Style,
    pub status: Style,
    /// PRD (and unmapped) environment in the status bar.
    pub env_danger: Style,
    pub env_safe: Style,
    pub input: Style,
    pub button: Style,
    pub button_focused: Style,
    pub match_highlight: Style,
}

impl Styles {
    pub fn new(p: &Palette, depth: ColorDepth) -> Styles {
        if depth == ColorDepth::NoColor {
            return Styles::monochrome();
        }
        let base = Style::new().fg(p.fg).bg(p.bg);
        Styles {
            base,
            muted: Style::new().fg(p.muted),
            border: Style::new().fg(p.border),
            border_focused: Style::new()
                .fg(p.border_focused)
                .add_modifier(Modifier::BOLD),
            title: Style::new().fg(p.muted),
            title_focused: Style::new().fg(p.accent).add_modifier(Modifier::BOLD),
            selection: Style::new().fg(p.selection_fg).bg(p.selection_bg),
            header: Style::new().fg(p.accent).add_modifier(Modifier::BOLD),
            danger: Style::new().fg(p.danger).add_modifier(Modifier::BOLD),
            warning: Style::new().fg(p.warning),
            ok: Style::new().fg(p.ok),
            info: Style::new().fg(p.info),
            read_only: Style::new()
                .fg(p.status_bg)
                .bg(p.read_only)
                .add_modifier(Modifier::BOLD),
            disabled: Style::new().fg(p.muted).add_modifier(Modifier::DIM),
            status: Style::new().fg(p.status_fg).bg(p.status_bg),
            env_danger: Style::new()
                .fg(p.status_bg)
                .bg(p.danger)
                .add_modifier(Modifier::BOLD),
            env_safe: Style::new()
                .fg(p.ok)
                .bg(p.status_bg)
                .add_modifier(Modifier::BOLD),
            input: Style::new().fg(p.fg),
            button: Style::new().fg(p.fg),
            button_focused: Style::new()
                .fg(p.selection_fg)
                .bg(p.selection_bg)
                .add_modifier(Modifier::BOLD),
            match_highlight: Style::new().fg(p.selection_fg).bg(p.warning),
        }
    }

    pub(crate) fn monochrome() -> Styles {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let reversed = Style::new().add_modifier(Modifier::REVERSED);
        Styles {
            base: plain,
            muted: Style::new().add_modifier(Modifier::DIM),
            border: plain,
            border_focused: bold,
            title: plain,
            title_focused: bold.add_modifier(Modifier::UNDERLINED),
            selection: reversed,
            header: bold,
            danger: bold.add_modifier(Modifier::UNDERLINED),
            warning: bold,
            ok: plain,
            info: plain,
            read_only: reversed.add_modifier(Modifier::BOLD),
            disabled: Style::new().add_modifier(Modifier::DIM | Modifier::CROSSED_OUT),
            status: plain,
            env_danger: reversed.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            env_safe: bold,
            input: plain,
            button: plain,
            button_focused: reversed.add_modifier(Modifier::BOLD),
            match_highlight: reversed,
        }
    }

    pub fn for_status(&self, class: StatusClass) -> Style {
        match class {
            StatusClass::Ok => self.ok,
            StatusClass::InProgress => self.warning,
            StatusClass::Failed => self.danger,
            StatusClass::Deleted => self.muted,
        }
    }
}
