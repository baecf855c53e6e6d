"""Errors a person can act on: each says what went wrong, with which file, and what to do."""


class ScimultError(Exception):
    """A problem with the user's input (file, checkpoint, arguments); the message is for people."""


class CheckpointError(ScimultError):
    """The checkpoint cannot be read or does not fit a SciMult layout."""


class UnsafeCheckpointError(CheckpointError):
    """The file asks to run code while loading; it was refused."""


class TokenizerError(ScimultError):
    """No usable tokenizer was found for the checkpoint."""


class InputError(ScimultError):
    """An input document file cannot be read."""
