# Types of the compiled common paths (_fast.c); the stages of stack.py are the reference.
import numpy as np

VALUE_NAMES: tuple[str, ...]
IP_NAMES: tuple[str, ...]

def decode(
    data: np.ndarray,
    offsets: np.ndarray,
    cap_len: np.ndarray,
    wire_len: np.ndarray,
    linktype: np.ndarray,
    ports: np.ndarray,
    guess: bool,
    max_depth: int,
    values: tuple[np.ndarray, ...],
    masks: tuple[np.ndarray, ...],
    addrs: tuple[np.ndarray, ...],
    families: tuple[np.ndarray, ...],
    tunnel: np.ndarray,
    nd_flags: np.ndarray,
    declined: np.ndarray,
    pkt_type: np.ndarray,
    /,
) -> tuple[int, int]: ...
def factorize_u64(
    values: np.ndarray, valid: np.ndarray | None, codes: np.ndarray, uniques: np.ndarray, /
) -> int: ...
