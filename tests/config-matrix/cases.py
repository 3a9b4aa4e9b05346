# SPDX-License-Identifier: GPL-2.0-or-later
"""The bad-configuration matrix: invalid, hostile and borderline NVDIMM
configurations, each with what stock QEMU 10.0 does with it.

A case starts a paused pc machine with its own arguments, in a scratch
directory that holds the case's pre-existing backend files, then sends
its QMP commands (hotplug, unplug, object-add ...).  "stock" records the
outcome observed on the unmodified reference build: 'accept' (QEMU
starts and every command succeeds) or 'refuse' (QEMU exits non-zero or a
command returns an error).  "names" lists words of which a refusal
message must contain at least one, so the user can tell which option or
value is wrong.

In arguments and commands, DIR stands for the scratch directory.
"""

from dataclasses import dataclass, field
import subprocess

from vnv.matrix import DEFAULT_MACHINE, DEFAULT_MEMORY

DIR = '@DIR@'
MiB = 1 << 20
KiB = 1 << 10
BACKEND = 32 * MiB
FILE = 'nv.img'
DEVICE_MEMORY_BASE = 0x100000000     # pc with 512M of RAM


@dataclass
class Case:
    name: str
    doc: str
    stock: str
    args: list
    files: dict = field(default_factory=lambda: {FILE: sized(BACKEND)})
    commands: list = field(default_factory=list)
    names: tuple = ()
    machine: str = DEFAULT_MACHINE
    memory: str = DEFAULT_MEMORY
    read_only: tuple = ()        # files to chmod 0444 before the run
    immutable: tuple = ()        # files to chattr +i before the run
    ro_bind: str = None          # a directory to bind-mount read-only
    may_change: tuple = ()       # files the configuration asks to change

    @property
    def is_hotplug(self):
        return bool(self.commands)


# Pre-existing file contents.  By default a file holds a pattern with a
# zeroed last MiB, so a label area at its end is blank, as in a file
# that was never used with labels.  'full' puts data in the label area
# too; 'labelled' puts a namespace index block signature there;
# 'labelled-second' holds data with only the second index block intact;
# 'zeroes' is a file of zeroes (a label area that big is blank only so).
def sized(size, content='blank-tail'):
    return (size, content)


def backend(oid='m0', path=FILE, size='32M', extra=''):
    return ['-object', 'memory-backend-file,id=%s,share=on,mem-path=%s/%s,'
            'size=%s%s' % (oid, DIR, path, size, extra)]


def nvdimm(did='nv0', memdev='m0', extra=''):
    return ['-device', 'nvdimm,id=%s,memdev=%s%s' % (did, memdev, extra)]


def pair(obj_extra='', dev_extra='', size='32M', path=FILE, oid='m0',
         did='nv0'):
    """One file backend and the NVDIMM that uses it."""
    return (backend(oid, path, size, obj_extra) +
            nvdimm(did, oid, dev_extra))


def object_add(oid='m1', path='nv1.img', size=BACKEND, **props):
    args = {'qom-type': 'memory-backend-file', 'id': oid, 'share': True,
            'mem-path': '%s/%s' % (DIR, path), 'size': size}
    args.update(props)
    return {'execute': 'object-add', 'arguments': args}


def device_add(did='nv1', memdev='m1', **props):
    args = {'driver': 'nvdimm', 'id': did, 'memdev': memdev}
    args.update({k.replace('_', '-'): v for k, v in props.items()})
    return {'execute': 'device_add', 'arguments': args}


def command(name, **arguments):
    return {'execute': name, 'arguments': arguments}


def qom_set(prop, value, path='nv0'):
    return command('qom-set', path=path, property=prop, value=value)


NEW_UUID = '00000000-0000-0000-0000-000000000001'
LABEL_NAMES = ('label-size', 'label')
SIZE_NAMES = ('size',)


def backend_size_cases():
    return [
        Case('size-smaller-than-file',
             'size=32M on a 64M file: the first 32M are used',
             'accept', pair(), files={FILE: sized(64 * MiB)}),
        Case('size-larger-than-file',
             'size=32M on a 16M file: would need growing the file',
             'refuse', pair(), files={FILE: sized(16 * MiB)},
             names=SIZE_NAMES + (FILE,)),
        Case('size-not-page-multiple',
             'size one byte more than the 32M file',
             'refuse', pair(size='33554433'), names=SIZE_NAMES),
        Case('size-zero', 'size=0', 'refuse', pair(size='0'),
             names=SIZE_NAMES),
        Case('file-larger-by-a-few-bytes',
             'a 32M+100 byte file used with size=32M',
             'accept', pair(), files={FILE: sized(BACKEND + 100)}),
        Case('empty-existing-file',
             'an existing empty file: stock sizes it (nothing to lose)',
             'accept', pair(), files={FILE: sized(0)}, may_change=(FILE,)),
    ]


def label_size_cases():
    return [
        Case('label-size-below-minimum', 'label-size=64K (minimum 128K)',
             'refuse', pair(dev_extra=',label-size=64K'),
             names=LABEL_NAMES),
        Case('label-size-zero', 'label-size=0 given explicitly',
             'refuse', pair(dev_extra=',label-size=0'), names=LABEL_NAMES),
        Case('label-size-equal-to-backend', 'label-size=32M on 32M',
             'refuse', pair(dev_extra=',label-size=32M'),
             names=LABEL_NAMES),
        Case('label-size-larger-than-backend', 'label-size=64M on 32M',
             'refuse', pair(dev_extra=',label-size=64M'),
             names=LABEL_NAMES),
        Case('label-size-not-page-multiple', 'label-size=129K',
             'accept', pair(dev_extra=',label-size=129K')),
        Case('label-size-odd-bytes', 'label-size=128K+1 byte',
             'accept', pair(dev_extra=',label-size=131073')),
        Case('label-size-leaves-one-page',
             'label-size = backend - 4K: a 4K PMEM region',
             'accept', pair(dev_extra=',label-size=%d' % (BACKEND - 4096)),
             files={FILE: sized(BACKEND, 'zeroes')}),
        Case('label-size-overflow', 'label-size=2^64-1',
             'refuse', pair(dev_extra=',label-size=18446744073709551615'),
             names=LABEL_NAMES),
        Case('label-size-negative', 'label-size=-1',
             'refuse', pair(dev_extra=',label-size=-1'), names=LABEL_NAMES),
        Case('label-area-zeroed', 'labels over a blank file tail',
             'accept', pair(dev_extra=',label-size=128K')),
        Case('label-area-labelled',
             'labels over a tail that holds a namespace index block',
             'accept', pair(dev_extra=',label-size=128K'),
             files={FILE: sized(BACKEND, 'labelled')}),
        Case('label-area-holds-data',
             'labels over a tail that holds data (the seed\'s corruption)',
             'accept', pair(dev_extra=',label-size=128K'),
             files={FILE: sized(BACKEND, 'full')},
             names=('label-overwrite',)),
        Case('label-area-second-index-block',
             'labels over a tail whose first index block is torn',
             'accept', pair(dev_extra=',label-size=128K'),
             files={FILE: sized(BACKEND, 'labelled-second')}),
        Case('label-area-holds-data-readonly',
             'data in the label area of a readonly=on, unarmed=on device',
             'accept', pair(',readonly=on', ',unarmed=on,label-size=128K'),
             files={FILE: sized(BACKEND, 'full')},
             names=('label-overwrite',)),
        Case('label-area-holds-data-overwrite',
             'data in the label area, label-overwrite=on given',
             'refuse', pair(dev_extra=',label-size=128K,label-overwrite=on'),
             files={FILE: sized(BACKEND, 'full')},
             names=('label-overwrite',)),
    ]


def align_offset_cases():
    odd = {FILE: sized(36 * MiB)}
    return [
        Case('align-not-dividing-size', 'size=36M, align=8M', 'accept',
             pair(size='36M', obj_extra=',align=8M'), files=odd,
             names=('align', 'hidden')),
        Case('align-not-power-of-two', 'size=36M, align=3M', 'refuse',
             pair(size='36M', obj_extra=',align=3M'), files=odd,
             names=('align',)),
        Case('align-larger-than-size', 'size=32M, align=64M', 'refuse',
             pair(obj_extra=',align=64M'), names=('align', 'size')),
        Case('align-2M-valid', 'size=32M, align=2M', 'accept',
             pair(obj_extra=',align=2M')),
        Case('offset-beyond-file', 'offset=64M in a 32M file', 'refuse',
             pair(obj_extra=',offset=64M'), names=('offset', 'size')),
        Case('offset-plus-size-beyond-file', 'offset=4K, size=32M, 32M file',
             'refuse', pair(obj_extra=',offset=4K'),
             names=('offset', 'size')),
        Case('offset-in-larger-file', 'offset=32M, size=32M, 64M file',
             'accept', pair(obj_extra=',offset=32M'),
             files={FILE: sized(64 * MiB)}),
        Case('offset-not-page-aligned', 'offset=100 in a 64M file',
             'refuse', pair(obj_extra=',offset=100'),
             files={FILE: sized(64 * MiB)}, names=('offset',)),
    ]


def path_cases():
    return [
        Case('missing-directory', 'mem-path in a directory that is absent',
             'refuse', pair(path='no/such/dir/nv.img'),
             names=('no/such/dir', 'mem-path')),
        Case('mem-path-is-directory',
             'mem-path names a directory: a temporary file inside',
             'accept', pair(path='dir'),
             files={'dir/other.img': sized(MiB)}),
        Case('file-chmod-0444',
             'a 0444 file: root may still open it for writing',
             'accept', pair(), read_only=(FILE,)),
        Case('file-chmod-0444-readonly', 'a 0444 file with readonly=on',
             'accept', pair(',readonly=on', ',unarmed=on'),
             read_only=(FILE,)),
        Case('file-immutable', 'chattr +i file, share=on', 'refuse',
             pair(), immutable=(FILE,), names=(FILE, 'mem-path')),
        Case('file-immutable-share-off', 'chattr +i file, share=off',
             'refuse', backend(extra=',share=off') + nvdimm(),
             immutable=(FILE,), names=(FILE, 'mem-path', 'readonly')),
        Case('file-immutable-readonly',
             'chattr +i file, readonly=on, unarmed=on, labels',
             'accept', pair(',readonly=on', ',unarmed=on,label-size=128K'),
             immutable=(FILE,)),
        Case('file-immutable-readonly-armed',
             'chattr +i file, readonly=on, unarmed left off',
             'refuse', pair(',readonly=on'), immutable=(FILE,),
             names=('unarmed', 'read-only', 'readonly')),
        Case('file-read-only-mount', 'file on a read-only bind mount',
             'refuse', pair(path='ro/nv.img'),
             files={'ro/nv.img': sized(BACKEND)}, ro_bind='ro',
             names=('ro/nv.img', 'mem-path', 'Read-only')),
        Case('file-read-only-mount-readonly',
             'file on a read-only bind mount, readonly=on, unarmed=on',
             'accept', pair(',readonly=on', ',unarmed=on',
                            path='ro/nv.img'),
             files={'ro/nv.img': sized(BACKEND)}, ro_bind='ro'),
        Case('rom-on-readwrite-file', 'rom=on on a writable file',
             'refuse', pair(',rom=on'), names=('rom', 'readonly')),
        Case('discard-data-on',
             'discard-data=on: stock discards the file contents on exit',
             'accept', pair(',discard-data=on'), may_change=(FILE,)),
        Case('pmem-on', 'pmem=on on a plain (non-DAX) file',
             'accept', pair(',pmem=on')),
    ]


def memdev_cases():
    return [
        Case('memdev-missing', 'memdev=nope', 'refuse',
             nvdimm(memdev='nope'), files={}, names=('nope', 'memdev')),
        Case('memdev-already-used', 'two NVDIMMs on one backend',
             'refuse', pair() + nvdimm('nv1'), names=('m0', 'memdev')),
        Case('memdev-used-by-pc-dimm', 'a pc-dimm and an NVDIMM share it',
             'refuse', backend() + ['-device', 'pc-dimm,id=d0,memdev=m0'] +
             nvdimm(), names=('m0', 'memdev')),
        Case('memdev-not-a-backend', 'memdev names an iothread', 'refuse',
             ['-object', 'iothread,id=io0'] + nvdimm(memdev='io0'),
             files={}, names=('io0', 'memdev')),
        Case('memdev-ram', 'memory-backend-ram behind an NVDIMM', 'accept',
             ['-object', 'memory-backend-ram,id=m0,size=32M'] + nvdimm(),
             files={}),
        Case('memdev-ram-labels', 'memory-backend-ram with label-size',
             'accept', ['-object', 'memory-backend-ram,id=m0,size=32M'] +
             nvdimm(extra=',label-size=128K'), files={}),
        Case('memdev-memfd', 'memory-backend-memfd behind an NVDIMM',
             'accept', ['-object', 'memory-backend-memfd,id=m0,size=32M'] +
             nvdimm(), files={}),
    ]


def machine_cases():
    return [
        Case('no-machine-nvdimm', '-machine pc without nvdimm=on',
             'refuse', pair(), machine='pc', names=('nvdimm',)),
        Case('machine-nvdimm-off', '-machine pc,nvdimm=off', 'refuse',
             pair(), machine='pc,nvdimm=off', names=('nvdimm',)),
        Case('persistence-bogus', 'nvdimm-persistence=bogus', 'refuse',
             pair(), machine='pc,nvdimm=on,nvdimm-persistence=bogus',
             names=('bogus', 'nvdimm-persistence')),
        Case('persistence-cpu', 'nvdimm-persistence=cpu', 'accept',
             pair(), machine='pc,nvdimm=on,nvdimm-persistence=cpu'),
        Case('q35', 'q35 with an NVDIMM', 'accept', pair(),
             machine='q35,nvdimm=on'),
        Case('slots-zero', '-m 512M,slots=0,maxmem=8G', 'refuse', pair(),
             memory='512M,slots=0,maxmem=8G', names=('slots', 'slot')),
        Case('no-maxmem', '-m 512M: no device memory', 'refuse', pair(),
             memory='512M', names=('maxmem', 'slots')),
        Case('maxmem-too-small', 'maxmem leaves 16M for a 32M NVDIMM',
             'refuse', pair(), memory='512M,slots=4,maxmem=528M',
             names=('maxmem', 'memory', 'space')),
        Case('maxmem-equal-to-ram', 'maxmem=512M, slots=4', 'refuse',
             pair(), memory='512M,slots=4,maxmem=512M',
             names=('maxmem', 'memory', 'space')),
    ]


NUMA2 = ['-object', 'memory-backend-ram,id=r0,size=256M',
         '-object', 'memory-backend-ram,id=r1,size=256M',
         '-numa', 'node,nodeid=0,memdev=r0',
         '-numa', 'node,nodeid=1,memdev=r1']


def device_property_cases():
    base = '0x%x' % DEVICE_MEMORY_BASE
    two = {FILE: sized(BACKEND), 'nv1.img': sized(BACKEND)}
    return [
        Case('uuid-unparsable', 'uuid=not-a-uuid', 'refuse',
             pair(dev_extra=',uuid=not-a-uuid'),
             names=('uuid', 'not-a-uuid')),
        Case('uuid-valid', 'a well-formed uuid', 'accept',
             pair(dev_extra=',uuid=6c6b3ae1-2f0f-4c6f-9e1e-3d9f2a8a2b10')),
        Case('node-beyond-numa', 'node=1 without NUMA nodes', 'refuse',
             pair(dev_extra=',node=1'), names=('node',)),
        Case('node-beyond-numa-two-nodes', 'node=2 with two nodes',
             'refuse', NUMA2 + pair(dev_extra=',node=2'), names=('node',)),
        Case('node-valid-two-nodes', 'node=1 with two nodes', 'accept',
             NUMA2 + pair(dev_extra=',node=1')),
        Case('two-nvdimms-one-addr', 'both at addr=' + base, 'refuse',
             pair(dev_extra=',addr=' + base) +
             pair(dev_extra=',addr=' + base, path='nv1.img', oid='m1',
                  did='nv1'), files=two, names=('addr', 'overlap')),
        Case('addr-unaligned', 'addr=base+4K', 'accept',
             pair(dev_extra=',addr=0x%x' % (DEVICE_MEMORY_BASE + 4096))),
        Case('addr-below-device-memory', 'addr=0x1000', 'refuse',
             pair(dev_extra=',addr=0x1000'), names=('addr',)),
        Case('slot-beyond-slots', 'slot=4 with slots=4', 'refuse',
             pair(dev_extra=',slot=4'), names=('slot',)),
        Case('two-nvdimms-one-slot', 'both in slot=1', 'refuse',
             pair(dev_extra=',slot=1') +
             pair(dev_extra=',slot=1', path='nv1.img', oid='m1', did='nv1'),
             files=two, names=('slot',)),
    ]


def hotplug(name, doc, stock, commands, names=(), args=None, **kw):
    """A case that starts a valid VM with one NVDIMM and sends commands."""
    files = kw.pop('files', {FILE: sized(BACKEND),
                             'nv1.img': sized(BACKEND)})
    return Case(name, doc, stock, pair() if args is None else args,
                files=files, commands=commands, names=names, **kw)


def hotplug_cases():
    busy = [device_add('nv1', 'm0')]
    return [
        hotplug('hotplug-valid', 'object-add + device_add', 'accept',
                [object_add(), device_add(label_size=128 * KiB)]),
        hotplug('hotplug-no-free-slot', 'slots=1 already taken', 'refuse',
                [object_add(), device_add()], names=('slot',),
                memory='512M,slots=1,maxmem=8G'),
        hotplug('hotplug-past-maxmem', 'second 32M NVDIMM past maxmem',
                'refuse', [object_add(), device_add()],
                names=('maxmem', 'memory', 'space'),
                memory='512M,slots=4,maxmem=560M'),
        hotplug('hotplug-busy-memdev', 'device_add on the used backend',
                'refuse', busy, names=('m0', 'memdev')),
        hotplug('device-del-nvdimm', 'device_del of the NVDIMM', 'refuse',
                [command('device_del', id='nv0')],
                names=('nvdimm', 'unplug')),
        hotplug('object-del-busy-memdev', 'object-del of its backend',
                'refuse', [command('object-del', id='m0')],
                names=('m0',)),
        hotplug('hotplug-size-larger-than-file', 'object-add 64M, 32M file',
                'refuse', [object_add(size=64 * MiB)],
                names=SIZE_NAMES + ('nv1.img',)),
        hotplug('hotplug-missing-directory', 'object-add in absent dir',
                'refuse', [object_add(path='no/such/nv1.img')],
                names=('no/such', 'mem-path')),
        hotplug('hotplug-immutable-file', 'object-add on a chattr +i file',
                'refuse', [object_add()], names=('nv1.img', 'mem-path'),
                immutable=('nv1.img',)),
        hotplug('hotplug-label-area-holds-data',
                'device_add with labels over a file tail that holds data',
                'accept', [object_add(), device_add(label_size=128 * KiB)],
                names=('label-overwrite',),
                files={FILE: sized(BACKEND),
                       'nv1.img': sized(BACKEND, 'full')}),
        hotplug('hotplug-label-too-small-then-valid',
                'a refused device_add must leave the backend free',
                'refuse', [object_add(), device_add(label_size=64 * KiB),
                           device_add()], names=LABEL_NAMES),
        hotplug('hotplug-label-equal-to-backend', 'label-size = size',
                'refuse', [object_add(), device_add(label_size=BACKEND)],
                names=LABEL_NAMES),
        hotplug('hotplug-bad-uuid', 'device_add uuid=xyz', 'refuse',
                [object_add(), device_add(uuid='xyz')],
                names=('uuid', 'xyz')),
        hotplug('hotplug-node-beyond-numa', 'device_add node=5', 'refuse',
                [object_add(), device_add(node=5)], names=('node',)),
        hotplug('hotplug-same-addr', 'device_add at nv0\'s addr',
                'refuse', [object_add(),
                           device_add(addr=DEVICE_MEMORY_BASE)],
                names=('addr', 'overlap')),
        hotplug('hotplug-memdev-missing', 'device_add memdev=nope',
                'refuse', [device_add(memdev='nope')],
                names=('nope', 'memdev')),
        hotplug('qom-set-uuid-after-realize', 'change the uuid later',
                'accept', [qom_set('uuid', NEW_UUID)], names=('uuid',)),
        # Stock's message, "cannot change property value", names no
        # property (the command does); ours keeps it word for word.
        hotplug('qom-set-label-size-after-realize',
                'change label-size later', 'refuse',
                [qom_set('label-size', 256 * KiB)],
                names=('label-size', 'cannot change property value')),
        hotplug('qom-set-unarmed-after-realize', 'change unarmed later',
                'refuse', [qom_set('unarmed', True)], names=('unarmed',)),
        hotplug('hotplug-without-machine-nvdimm', 'machine without nvdimm',
                'refuse', [object_add(), device_add()], names=('nvdimm',),
                args=[], machine='pc'),
    ]


def all_cases():
    return (backend_size_cases() + label_size_cases() +
            align_offset_cases() + path_cases() + memdev_cases() +
            machine_cases() + device_property_cases() + hotplug_cases())


def chattr(flag, path):
    """Set or clear the immutable flag; False when the filesystem cannot."""
    result = subprocess.run(['chattr', flag, path], capture_output=True)
    return result.returncode == 0
