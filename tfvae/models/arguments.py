"""Checks of the constructor arguments the models share, so each states its error the same way."""


def check_count(name: str, value, minimum: int = 1) -> None:
    """Refuse anything but an integer >= `minimum` (a bool is not a count).

    Args:
        name: str, the argument's name, for the message.
        value: the value received.
        minimum: int, the smallest value allowed. Defaults to 1.

    Raises:
        ValueError: if `value` is not an integer >= `minimum`.

    Examples:
        >>> check_count("width", 4)
        >>> check_count("width", True)
        Traceback (most recent call last):
        ...
        ValueError: Expected width to be an integer >= 1. Received: width=True.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"Expected {name} to be an integer >= {minimum}. Received: {name}={value!r}.")
