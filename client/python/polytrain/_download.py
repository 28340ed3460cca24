"""What download_checkpoint() writes: a stream of CheckpointChunk messages into a file beside the
target under a temporary name, checked against the size and CRC-32 its last chunk carries, then
linked into place: the target is the whole checkpoint or untouched, and a file made there while
it downloaded (another download to the same path) is never replaced."""
import errno
import glob
import os
import pathlib
import re
import secrets
import time
import warnings
import zlib

from polytrain import _arguments
from polytrain.errors import PolyTrainError
from polytrain.v1 import coordinator_pb2


# The most of a target's name its temporary name keeps (common/chunked_file.cc's kMaxNameBytes).
_MAX_NAME_BYTES = 200


def _place(partial, target):
    """Moves `partial` to `target`, never over a file there: FileExistsError when one is."""
    try:
        os.link(partial, target)  # unlike a rename, never over an existing file
        return
    except FileExistsError:
        raise FileExistsError(f"path {target} was made while the checkpoint downloaded; "
                              f"remove it or name another file (nothing was written)") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
    # A file system without hard links (vfat, some network mounts): the name is taken first
    # (O_EXCL fails on an existing file), then the file renamed over that empty placeholder.
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        raise FileExistsError(f"path {target} was made while the checkpoint downloaded; "
                              f"remove it or name another file (nothing was written)") from None
    os.replace(partial, target)


def _sync_directory(directory):
    """Makes the name just placed in `directory` last a power loss. Best effort, as the file is
    in place already (and was synced before it got its name): a directory this process may write
    but not read is skipped, another failure is a warning."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (PermissionError, IsADirectoryError):  # write-only; Windows opens no directory
        return
    except OSError as error:
        warnings.warn(f"{directory}: cannot sync the directory ({error.strerror}): a power loss "
                      f"now may lose the downloaded file's name", stacklevel=3)
        return
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno != errno.EINVAL:  # a file system that cannot sync a directory
            warnings.warn(f"{directory}: syncing the directory failed ({error.strerror}): a "
                          f"power loss now may lose the downloaded file's name", stacklevel=3)
    finally:
        os.close(fd)


def _temp_prefix(target):
    """".NAME.download-", NAME cut to 200 bytes: with the pid and the random part the name stays
    within the 255 bytes a file system allows (a NAME that long is one; its temporary name, not),
    as polyctl cuts it."""
    name = os.fsdecode(os.fsencode(target.name)[:_MAX_NAME_BYTES])
    return f".{name}.download-"


def _remove_abandoned(target):
    """Removes the temporary files of earlier downloads to `target` whose process is gone (its
    pid runs nothing here) and that were not written for a minute: a download that was killed."""
    prefix = _temp_prefix(target)
    for leftover in target.parent.glob(f"{glob.escape(prefix)}*"):
        # Exactly "<pid>-<hex>" after the prefix: a download to "NAME.download-1-x" has a
        # temporary name that starts alike, and is not this path's.
        rest = re.fullmatch(r"([0-9]{1,9})-[0-9a-f]+", leftover.name[len(prefix):])
        if rest is None or int(rest.group(1)) <= 0:
            continue
        try:
            os.kill(int(rest.group(1)), 0)
            continue  # running
        except ProcessLookupError:
            pass
        except (OSError, OverflowError):
            continue  # another user's, or not ours to tell
        try:
            if time.time() - leftover.stat().st_mtime >= 60:
                leftover.unlink()
        except OSError:
            pass


def download_target(path):
    """download_checkpoint()'s `path` as a pathlib.Path, checked as polyctl checks --output: a
    file there (or a link, even one to nowhere) is refused, as is a directory that is missing
    or a path that names one ("dir/")."""
    given = _arguments.path(path, "path")
    target = pathlib.Path(given)
    if target.is_dir() and not target.is_symlink():
        raise IsADirectoryError(f"path {target} is a directory: name the file to write, e.g. "
                                f"{target / 'model.pt'} (nothing was downloaded)")
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"path {target} exists; remove it or name another file (nothing "
                              f"was downloaded)")
    # "dir/" names a directory, which pathlib would forget: as polyctl, that is no file.
    directory = given if given.endswith(os.sep) else target.parent
    if given.endswith(os.sep) or not target.parent.is_dir():
        raise FileNotFoundError(f"path {given}: no directory {directory} (nothing was downloaded; "
                                f"make it first)")
    return target


def write_checkpoint(chunks, target, best=False):
    """Writes `chunks` (an iterator of CheckpointChunk) to `target` (a pathlib.Path that does
    not exist) and returns the first chunk without its data. PolyTrainError DATA_LOSS when what
    arrived is not what the coordinator recorded, FAILED_PRECONDITION when `best` was asked and
    the first chunk does not say it is the best (an older coordinator), FileExistsError when
    `target` appeared meanwhile; errors of the iterator pass through. No partial file is left
    either way."""
    _remove_abandoned(target)
    # Hidden, and named as polyctl names its own: a download killed half-way leaves nothing that
    # looks like output, and the next one to this path clears it.
    partial = target.with_name(f"{_temp_prefix(target)}{os.getpid()}-{secrets.token_hex(8)}")
    first = last = None
    crc, size = 0, 0
    try:
        try:
            with open(partial, "wb") as out:
                for chunk in chunks:
                    if first is None:
                        first = coordinator_pb2.CheckpointChunk(name=chunk.name, step=chunk.step,
                                                                passed_over=chunk.passed_over,
                                                                best=chunk.best)
                    out.write(chunk.data)
                    crc, size = zlib.crc32(chunk.data, crc), size + len(chunk.data)
                    if chunk.last:
                        last = chunk
                out.flush()
                os.fsync(out.fileno())  # on the disk whole before it is given its name
        except OSError as error:  # a full disk, say: named by the file asked for (probe CG)
            raise OSError(error.errno, error.strerror, str(target)) from None
        if last is None or last.size != size or last.crc32 != crc:
            recorded = "no last chunk came" if last is None else (
                f"the coordinator recorded {last.size} bytes with CRC-32 {last.crc32}")
            raise PolyTrainError("DATA_LOSS", f"the checkpoint arrived damaged ({size} bytes with "
                                 f"CRC-32 {crc}; {recorded}); nothing was written: download it "
                                 f"again")
        if best and not first.best:
            raise PolyTrainError("FAILED_PRECONDITION", "best: the coordinator sent its newest "
                                 "checkpoint, not the best (a version older than best "
                                 "checkpoints); nothing was written")
        _place(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _sync_directory(target.parent)  # after the temporary name is gone, so it never comes back
    return first
