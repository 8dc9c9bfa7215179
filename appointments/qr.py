import qrcode
import qrcode.image.svg

QR_PREFIX = "EBIKE-BOOKING:"


def qr_payload(code: str) -> str:
    """What the QR code holds: a counter scanner types this into the search field."""
    return QR_PREFIX + code


def qr_svg(code: str) -> str:
    image = qrcode.make(
        qr_payload(code), image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2
    )
    return image.to_string(encoding="unicode")
