//! The `--browser` option.

use clap::ValueEnum;
use crossgate::browser::Browser;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BrowserArg {
    Chromium,
    Firefox,
    Webkit,
}

impl From<BrowserArg> for Browser {
    fn from(b: BrowserArg) -> Browser {
        match b {
            BrowserArg::Chromium => Browser::Chromium,
            BrowserArg::Firefox => Browser::Firefox,
            BrowserArg::Webkit => Browser::Webkit,
        }
    }
}
