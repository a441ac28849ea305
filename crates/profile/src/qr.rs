//! QR codes of wg-quick text, as the WireGuard mobile apps scan them: out to the terminal
//! (Unicode half blocks) or a PNG, and in from a PNG or JPEG picture.

use crate::model::Config;
use crate::parse::{parse, ParseError};
use qrcode::{EcLevel, QrCode};
use std::io::Cursor;
use zeroize::Zeroizing;

/// Why a QR code could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The text is too long for the largest QR code.
    #[error("the profile is too long for a QR code ({len} bytes; about 2,900 fit)")]
    TooLong {
        /// Length of the text in bytes.
        len: usize,
    },
    /// The QR encoder failed for another reason.
    #[error("cannot make a QR code: {0}")]
    Encode(String),
    /// The picture could not be encoded as PNG.
    #[error("cannot write the PNG: {0}")]
    Png(String),
    /// The bytes are not a PNG or JPEG picture that can be decoded.
    #[error("{file}: not a readable PNG or JPEG picture: {detail}")]
    NotAnImage {
        /// The file name shown.
        file: String,
        /// The decoder's message.
        detail: String,
    },
    /// The picture holds no QR code that could be found.
    #[error("{file}: no QR code found in the picture")]
    NoQrCode {
        /// The file name shown.
        file: String,
    },
    /// A QR code was found but could not be decoded.
    #[error("{file}: a QR code was found but could not be read ({detail})")]
    Unreadable {
        /// The file name shown.
        file: String,
        /// The decoder's message.
        detail: String,
    },
    /// The QR code holds text that is not a WireGuard configuration.
    #[error("{0}")]
    NotWireGuard(Box<ParseError>),
}

impl From<ParseError> for QrError {
    fn from(e: ParseError) -> Self {
        QrError::NotWireGuard(Box::new(e))
    }
}

/// True when the bytes start like a PNG or JPEG file.
pub fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

fn encode(text: &str) -> Result<QrCode, QrError> {
    // Medium error correction when it fits (what the mobile apps print), else low.
    match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => Ok(code),
        Err(qrcode::types::QrError::DataTooLong) => {
            QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).map_err(|e| match e {
                qrcode::types::QrError::DataTooLong => QrError::TooLong { len: text.len() },
                other => QrError::Encode(other.to_string()),
            })
        }
        Err(other) => Err(QrError::Encode(other.to_string())),
    }
}

/// The QR code of `text` drawn with Unicode half blocks (two modules per character cell), light
/// on dark as terminals show it best, with the quiet zone around it.
pub fn to_terminal(text: &str) -> Result<String, QrError> {
    use qrcode::render::unicode::Dense1x2;
    let code = encode(text)?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// The QR code of `text` as a PNG file (black on white, `module_px` pixels per module).
pub fn to_png(text: &str, module_px: u32) -> Result<Vec<u8>, QrError> {
    let code = encode(text)?;
    let width = code.width();
    let px = module_px.max(1);
    let quiet = 4usize;
    let side = (width + 2 * quiet) as u32 * px;
    let colors = code.to_colors();
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let mx = (x / px) as usize;
        let my = (y / px) as usize;
        let dark = mx >= quiet
            && my >= quiet
            && mx - quiet < width
            && my - quiet < width
            && colors[(my - quiet) * width + (mx - quiet)] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| QrError::Png(e.to_string()))?;
    Ok(out.into_inner())
}

/// The QR code of `text` as an SVG document (black on white, with the quiet zone), for a UI to
/// show as an image.
pub fn to_svg(text: &str) -> Result<String, QrError> {
    use qrcode::render::svg;
    let code = encode(text)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
}

/// The text of the first QR code found in a PNG or JPEG picture. `file` names it in errors.
pub fn decode_image(bytes: &[u8], file: &str) -> Result<Zeroizing<String>, QrError> {
    let img = image::load_from_memory(bytes).map_err(|e| QrError::NotAnImage {
        file: file.to_string(),
        detail: e.to_string(),
    })?;
    let luma = img.to_luma8();
    let (w, h) = luma.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            luma.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    let Some(grid) = grids.first() else {
        return Err(QrError::NoQrCode {
            file: file.to_string(),
        });
    };
    let (_, text) = grid.decode().map_err(|e| QrError::Unreadable {
        file: file.to_string(),
        detail: e.to_string(),
    })?;
    Ok(Zeroizing::new(text))
}

/// Reads a WireGuard configuration from a QR-code picture. A QR code whose text is not a
/// wg-quick configuration gives the parse error (`file:line:col: …`).
pub fn config_from_image(bytes: &[u8], file: &str) -> Result<Config, QrError> {
    let text = decode_image(bytes, file)?;
    Ok(parse(&text, file)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::write;

    const CONF: &str = "[Interface]
PrivateKey = aDdT5AJB8+hX/TKw1g9h6uzegJqyscnkbVzmmieLikw=
Address = 10.13.13.2/32
DNS = 10.13.13.1

[Peer]
PublicKey = c2K39PDbDBiNYpXduD7twBeAREk16QToeeHV38LTZQY=
PresharedKey = fRjRBJoFoJIQKXGt5N2WQ4Pogh6F+biiu1KKFxclx8o=
Endpoint = vpn.example.net:51820
AllowedIPs = 0.0.0.0/0
";

    #[test]
    fn png_round_trip_gives_the_same_profile() {
        let config = parse(CONF, "wg0.conf").unwrap();
        let text = write(&config);
        let png = to_png(&text, 4).unwrap();
        assert!(is_image(&png));
        let back = config_from_image(&png, "wg0.png").unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn generate_render_decode_round_trip() {
        // generate → render PNG → decode gives back the very text.
        let png = to_png(CONF, 3).unwrap();
        assert_eq!(*decode_image(&png, "wg0.png").unwrap(), CONF);
        let svg = to_svg(CONF).unwrap();
        assert!(svg.contains("<svg") && svg.contains("#000000"), "{svg}");
    }

    #[test]
    fn hostile_pictures_give_errors_not_panics() {
        let png = to_png(CONF, 2).unwrap();
        // Every truncation of a valid PNG, and bit flips in its body.
        for cut in (0..png.len()).step_by(97) {
            let _ = decode_image(&png[..cut], "cut.png");
        }
        let mut flipped = png.clone();
        for i in (40..flipped.len()).step_by(13) {
            flipped[i] ^= 0x5a;
        }
        assert!(decode_image(&flipped, "flipped.png").is_err());
        // A header that claims an enormous picture.
        let mut huge = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        huge.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
        huge.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
        huge.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode_image(&huge, "huge.png").is_err());
        // Not a picture at all, and empty.
        let err = decode_image(b"hello", "hello.txt").unwrap_err();
        assert!(
            err.to_string().starts_with("hello.txt: not a readable"),
            "{err}"
        );
        assert!(decode_image(&[], "empty.png").is_err());
    }

    #[test]
    fn jpeg_is_read_too() {
        let png = to_png(CONF, 6).unwrap();
        let img = image::load_from_memory(&png).unwrap();
        let mut jpeg = Cursor::new(Vec::new());
        img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        let jpeg = jpeg.into_inner();
        assert!(is_image(&jpeg));
        assert_eq!(*decode_image(&jpeg, "x.jpg").unwrap(), CONF);
    }

    #[test]
    fn terminal_rendering_uses_half_blocks() {
        let out = to_terminal(CONF).unwrap();
        assert!(out.contains('▀') || out.contains('▄'));
        assert!(out.lines().count() > 10);
    }

    #[test]
    fn clear_errors() {
        let blank = image::GrayImage::from_pixel(64, 64, image::Luma([255]));
        let mut png = Cursor::new(Vec::new());
        blank.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let err = decode_image(&png.into_inner(), "blank.png").unwrap_err();
        assert!(matches!(err, QrError::NoQrCode { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "blank.png: no QR code found in the picture"
        );

        let err = decode_image(b"\x89PNG\r\n\x1a\ngarbage", "bad.png").unwrap_err();
        assert!(matches!(err, QrError::NotAnImage { .. }), "{err}");

        let png = to_png("hello, not a config", 4).unwrap();
        let err = config_from_image(&png, "hello.png").unwrap_err();
        assert!(matches!(err, QrError::NotWireGuard(_)), "{err}");
        assert!(err.to_string().starts_with("hello.png:1:"), "{err}");

        let err = to_png(&"x".repeat(5000), 1).unwrap_err();
        assert!(matches!(err, QrError::TooLong { len: 5000 }), "{err}");
    }
}
