"""The message itself: raw bytes to an Envelope (headers, MIME parts, charsets, valid text), tolerant of
what real mailers send and bounded by intake.limits. Nothing here decides what the message is."""
