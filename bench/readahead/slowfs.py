#!/usr/bin/python3
# bench/readahead/slowfs.py MOUNTPOINT [-o allow_other]: a pass-through FUSE
# file system over $SLOW_ROOT that adds $SLOW_DELAY seconds to every read,
# served by many threads at once: a stand-in for storage with a queue
# (network volumes, NVMe), where reads in flight together overlap.  Used by
# bench/readahead/run; needs python3-fuse.
import os, sys, time, errno
import fuse
from fuse import Fuse
fuse.fuse_python_api = (0, 2)
DELAY = float(os.environ.get('SLOW_DELAY', '0.0005'))
ROOT = os.environ['SLOW_ROOT']

def flag2mode(flags):
    md = {os.O_RDONLY: 'rb', os.O_WRONLY: 'wb', os.O_RDWR: 'wb+'}
    m = md[flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)]
    if flags & os.O_APPEND:
        m = m.replace('w', 'a', 1)
    return m

class Slow(Fuse):
    def getattr(self, path): return os.lstat(ROOT + path)
    def readlink(self, path): return os.readlink(ROOT + path)
    def readdir(self, path, offset):
        for e in ['.', '..'] + os.listdir(ROOT + path):
            yield fuse.Direntry(e)
    def unlink(self, path): os.unlink(ROOT + path)
    def rmdir(self, path): os.rmdir(ROOT + path)
    def symlink(self, path, path1): os.symlink(path, ROOT + path1)
    def rename(self, path, path1): os.rename(ROOT + path, ROOT + path1)
    def link(self, path, path1): os.link(ROOT + path, ROOT + path1)
    def chmod(self, path, mode): os.chmod(ROOT + path, mode)
    def chown(self, path, user, group): os.chown(ROOT + path, user, group)
    def truncate(self, path, len):
        with open(ROOT + path, 'r+b') as f: f.truncate(len)
    def mknod(self, path, mode, dev): os.mknod(ROOT + path, mode, dev)
    def mkdir(self, path, mode): os.mkdir(ROOT + path, mode)
    def utime(self, path, times): os.utime(ROOT + path, times)
    def utimens(self, path, ts_acc, ts_mod): os.utime(ROOT + path, (ts_acc.tv_sec, ts_mod.tv_sec))
    def access(self, path, mode):
        if not os.access(ROOT + path, mode): return -errno.EACCES
    def statfs(self): return os.statvfs(ROOT)

    class SlowFile(object):
        def __init__(self, path, flags, *mode):
            self.fd = os.open(ROOT + path, flags, *mode)
        def read(self, length, offset):
            time.sleep(DELAY)
            return os.pread(self.fd, length, offset)
        def write(self, buf, offset): return os.pwrite(self.fd, buf, offset)
        def release(self, flags): os.close(self.fd)
        def fsync(self, isfsyncfile): os.fsync(self.fd)
        def flush(self): pass
        def fgetattr(self): return os.fstat(self.fd)
        def ftruncate(self, len): os.ftruncate(self.fd, len)

    def main(self, *a, **kw):
        self.file_class = self.SlowFile
        return Fuse.main(self, *a, **kw)

if __name__ == '__main__':
    server = Slow(version="slowfs", usage="slowfs.py mountpoint", dash_s_do='setsingle')
    server.parse(errex=1)
    server.main()
