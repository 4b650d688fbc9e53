"""Parity harness: run the same ``src_py`` module under CPython and, transpiled by Transcrypt,
under Node, on the same JSON inputs, and return JSON results that tests compare.

The browser code in ``src_py/`` is Python that Transcrypt turns into ES modules. Unit tests
under CPython alone prove nothing about the shipped JavaScript, so every browser module should
have a parity test built on this library::

    from tests.support.parity import run_js_many, run_py_many, ref

    cases = [['hello'], ['world']]
    assert run_js_many('tinybert_core.text', 'normalise', cases) == \
        run_py_many('tinybert_core.text', 'normalise', cases)

API (``module`` is a dotted module name under ``src_py``, e.g. ``'tinybert_core.tokenizer'``):

- ``transpile(module)`` transpiles ``src_py/<module path>.py`` (and everything it imports)
  with Transcrypt into a private temporary folder, once per test session, and returns the
  path of the emitted ``<module>.js``. Nothing is written into ``build/`` or ``src_py/``.
- ``run_js_many(module, target, cases, setup=None, timeout=600)`` calls ``target`` once per
  case in ONE Node process and returns the list of results; ``run_js_values(module, setup,
  names)`` returns the values of the named setup steps instead. ``run_js(module, target, args)``
  is the single-case form.
- ``run_py_many`` / ``run_py``: the same under CPython (a normal import of the module).

Semantics shared by both sides:

- Each case is a list of positional arguments. Arguments are serialised to JSON and parsed
  again on each side (``JSON.parse`` in Node), so functions receive exactly what the browser
  would receive from JSON: plain JavaScript objects in Node, dicts in CPython.
- ``target`` is a top-level function or class of the module (classes are constructed), or
  ``'<name>.<attribute>'`` where ``<name>`` was created by ``setup``.
- ``setup`` is a list of ``(name, target, args)`` steps run once before the cases, in order;
  ``ref(name)`` inside ``args`` stands for the value a previous step produced. Example::

      setup = [('cfg', 'config_from_tokenizer_json', [tokenizer_json, 128]),
               ('tok', 'Tokenizer', [ref('cfg')])]
      run_js_many('tinybert_core.tokenizer', 'tok.encode', [['hello'], ['world']], setup)

- Async functions are awaited. Results are made JSON-plain (typed arrays become lists,
  ``undefined`` becomes ``None``) and decoded with ``json``; CPython results go through the
  same JSON round trip. NaN and infinities are not JSON: they come back as ``None`` from Node.
- An exception raised by a case becomes ``{'__error__': {'type': <class name>,
  'message': <str(exception)>}}`` on both sides (``is_error`` tests for it); an exception in
  ``setup`` is raised as ``ParityError``.
- Transcrypt renames some attributes (``get`` -> ``py_get``, ``keys`` -> ``py_keys`` ...):
  the Node driver falls back to the ``py_`` name when the plain one is missing.

Transcrypt pragmas in CPython: modules that run under both use only the comment forms
(``# __pragma__ (...)``, ``#?`` executable comments), which are plain comments to CPython. The
CPython side imports the module unchanged.

Environment: ``NODE`` (default: ``node`` on PATH), ``TRANSCRYPT`` (default: the
``transcrypt`` next to this Python), ``PARITY_DIR`` (default: a temporary folder removed at
exit).
"""
import atexit
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, 'src_py')

_work_dir = None
_transpiled = {}


class ParityError(RuntimeError):
    """Transpiling, starting Node or a setup step failed."""


def ref(name):
    """Placeholder for the value produced by the setup step called ``name``."""
    return {'$parity_ref': name}


def is_error(result):
    return isinstance(result, dict) and '__error__' in result


def _work():
    global _work_dir
    if _work_dir is None:
        fixed = os.environ.get('PARITY_DIR')
        if fixed:
            os.makedirs(fixed, exist_ok=True)
            _work_dir = fixed
        else:
            _work_dir = tempfile.mkdtemp(prefix='parity-')
            atexit.register(shutil.rmtree, _work_dir, True)
    return _work_dir


def _transcrypt_cmd():
    exe = os.environ.get('TRANSCRYPT')
    if exe:
        return [exe]
    here = os.path.join(os.path.dirname(sys.executable), 'transcrypt')
    if os.path.exists(here):
        return [here]
    return [sys.executable, '-m', 'transcrypt']


def _node():
    node = os.environ.get('NODE') or shutil.which('node')
    if not node:
        raise ParityError('node not found (set NODE)')
    return node


def transpile(module):
    """Transpile src_py/<module>.py with Transcrypt (once per session); path of its .js."""
    if module in _transpiled:
        return _transpiled[module]
    rel = module.replace('.', os.sep) + '.py'
    if not os.path.exists(os.path.join(SRC, rel)):
        raise ParityError('no such module: src_py/' + rel)
    out = os.path.join(_work(), module)
    entry_dir = os.path.join(out, 'entry')
    js_dir = os.path.join(out, 'js')
    os.makedirs(entry_dir, exist_ok=True)
    entry = os.path.join(entry_dir, 'parity_entry.py')
    with open(entry, 'w', encoding='utf-8') as f:
        f.write('import ' + module + '\n')
    # The entry module sits outside src_py, so the module gets its package-qualified name
    # (tinybert_core.tokenizer.js), as in the app build; src_py is on Transcrypt's search path.
    cmd = _transcrypt_cmd() + ['-b', '-n', '-xp', SRC, '-od', js_dir, entry]
    proc = subprocess.run(cmd, cwd=entry_dir, capture_output=True, text=True)
    js = os.path.join(js_dir, module + '.js')
    if proc.returncode != 0 or 'Error while compiling' in proc.stdout \
            or not os.path.exists(js):
        raise ParityError('Transcrypt failed for %s:\n%s\n%s' % (module, proc.stdout,
                                                                 proc.stderr))
    _transpiled[module] = js
    return js


_DRIVER = r"""
import fs from 'fs';
import * as mod from %(module)s;

function pick(obj, name) {
    let v = obj[name];
    if (v === undefined && obj['py_' + name] !== undefined) v = obj['py_' + name];
    if (v === undefined) throw new Error('no attribute ' + name);
    return v;
}
function resolve(target, named) {
    const dot = target.indexOf('.');
    if (dot < 0) return [mod, pick(mod, target)];
    const head = target.slice(0, dot);
    if (!(head in named)) throw new Error('unknown setup name ' + head);
    const obj = named[head];
    return [obj, pick(obj, target.slice(dot + 1))];
}
function subst(x, named) {
    if (Array.isArray(x)) return x.map(v => subst(v, named));
    if (x !== null && typeof x === 'object') {
        const keys = Object.keys(x);
        if (keys.length === 1 && keys[0] === '$parity_ref') return named[x['$parity_ref']];
        if (keys.length === 1 && keys[0] === '$parity_bytes')
            return Uint8Array.from(x['$parity_bytes']);
        const out = {};
        for (const k of keys) out[k] = subst(x[k], named);
        return out;
    }
    return x;
}
function plain(x, depth) {
    if (depth > 100) return '<too deep>';
    if (x === undefined || x === null) return null;
    if (typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean') return x;
    if (typeof x === 'bigint') return Number(x);
    if (typeof x === 'function') return '<function>';
    if (ArrayBuffer.isView(x)) return Array.from(x, v => plain(v, depth + 1));
    if (Array.isArray(x)) return x.map(v => plain(v, depth + 1));
    if (x instanceof Map) {
        const out = {};
        for (const [k, v] of x) out[String(k)] = plain(v, depth + 1);
        return out;
    }
    const out = {};
    for (const k of Object.keys(x)) out[k] = plain(x[k], depth + 1);
    return out;
}
function errorOf(e) {
    let type = 'Error', message = '';
    if (e && e.__class__ && e.__class__.__name__) {   // a Transcrypt (Python) exception
        type = e.__class__.__name__;
        try { message = e.__str__(); } catch (_) { message = ''; }
    } else if (e && e.constructor && e.constructor.name) {
        type = e.constructor.name;
        message = e.message === undefined ? '' : String(e.message);
    } else {
        try { message = String(e); } catch (_) { message = '<unprintable>'; }
    }
    return {'__error__': {'type': type, 'message': message}};
}
async function call(target, args, named) {
    const [self, fn] = resolve(target, named);
    if (typeof fn !== 'function') return fn;   // a plain attribute
    if (/^class\s/.test(Function.prototype.toString.call(fn))) return new fn(...args);
    return await fn.apply(self, args);
}

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const named = {};
for (const [name, target, args] of spec.setup) {
    try {
        named[name] = await call(target, subst(args, named), named);
    } catch (e) {
        fs.writeFileSync(process.argv[3], JSON.stringify({'setup_error': [name, errorOf(e)]}));
        process.exit(0);
    }
}
const results = [];
if (spec.target === null) {   // run_js_values: the values that setup steps produced
    for (const [name] of spec.cases) results.push(plain(named[name], 0));
}
else for (const args of spec.cases) {
    try {
        results.push(plain(await call(spec.target, subst(args, named), named), 0));
    } catch (e) {
        results.push(errorOf(e));
    }
}
fs.writeFileSync(process.argv[3], JSON.stringify({'results': results}));
"""

_runs = [0]


def run_js_many(module, target, cases, setup=None, timeout=600):
    """Results of ``target(*case)`` for each case, transpiled, in one Node process."""
    js = transpile(module)
    js_dir = os.path.dirname(js)
    _runs[0] += 1
    tag = '%d_%d' % (os.getpid(), _runs[0])
    driver = os.path.join(js_dir, 'parity_driver_%s.mjs' % tag)
    spec_path = os.path.join(js_dir, 'parity_spec_%s.json' % tag)
    out_path = os.path.join(js_dir, 'parity_out_%s.json' % tag)
    with open(driver, 'w', encoding='utf-8') as f:
        f.write(_DRIVER % {'module': json.dumps('./' + os.path.basename(js))})
    spec = _bytes_marked({'target': target, 'cases': list(cases),
                          'setup': [list(step) for step in (setup or [])]})
    with open(spec_path, 'w', encoding='utf-8') as f:
        json.dump(spec, f)   # ensure_ascii: lone surrogates travel as \\udXXX escapes
    try:
        proc = subprocess.run([_node(), driver, spec_path, out_path], capture_output=True,
                              text=True, timeout=timeout, cwd=js_dir)
        if proc.returncode != 0 or not os.path.exists(out_path):
            raise ParityError('node failed (%d):\n%s\n%s' % (proc.returncode, proc.stdout,
                                                             proc.stderr))
        with open(out_path, encoding='utf-8') as f:
            answer = json.load(f)
    finally:
        for p in (driver, spec_path, out_path):
            if os.path.exists(p):
                os.remove(p)
    if 'setup_error' in answer:
        raise ParityError('setup step %r failed in node: %r' % tuple(answer['setup_error']))
    return answer['results']


def run_js_values(module, setup, names, timeout=600):
    """The values that the ``setup`` steps called ``names`` produced, in one Node process
    (for objects that cannot travel, e.g. keys: derive what a test needs in setup)."""
    return run_js_many(module, None, [[name] for name in names], setup, timeout)


def run_js(module, target, args, setup=None, timeout=600):
    """Result of ``target(*args)`` in Node (the single-case form of run_js_many)."""
    return run_js_many(module, target, [args], setup, timeout)[0]


def run_node_script(module, script, data, timeout=300):
    """Run the JavaScript ``script`` (an ES module: its own imports of the transpiled files,
    then code) in Node next to the transpiled ``module``; ``process.argv[1]`` is a JSON file
    holding ``data``. Returns what it printed, parsed as JSON."""
    js_dir = os.path.dirname(transpile(module))
    path = os.path.join(js_dir, 'script_input_%d.json' % os.getpid())
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(data, f)
    try:
        proc = subprocess.run([_node(), '--input-type=module', '-e', script, path],
                              capture_output=True, text=True, cwd=js_dir, timeout=timeout)
    finally:
        os.remove(path)
    if proc.returncode != 0:
        raise ParityError('node failed (%d):\n%s' % (proc.returncode, proc.stderr))
    return json.loads(proc.stdout)


def import_py(module):
    """Import a browser module under CPython (a normal import: the core is an installed
    package)."""
    return importlib.import_module(module)


def _bytes_marked(x):
    """Bytes arguments travel as markers: ``bytes`` in CPython, ``Uint8Array`` in Node."""
    if isinstance(x, (bytes, bytearray)):
        return {'$parity_bytes': list(x)}
    if isinstance(x, (list, tuple)):
        return [_bytes_marked(v) for v in x]
    if isinstance(x, dict):
        return {k: _bytes_marked(v) for k, v in x.items()}
    return x


def _json_round_trip(x):
    return json.loads(json.dumps(_bytes_marked(x)))


def _py_resolve(mod, target, named):
    if '.' not in target:
        return getattr(mod, target)
    head, attr = target.split('.', 1)
    if head not in named:
        raise ParityError('unknown setup name ' + head)
    return getattr(named[head], attr)


def _py_subst(x, named):
    if isinstance(x, list):
        return [_py_subst(v, named) for v in x]
    if isinstance(x, dict):
        if list(x.keys()) == ['$parity_ref']:
            return named[x['$parity_ref']]
        if list(x.keys()) == ['$parity_bytes']:
            return bytes(x['$parity_bytes'])
        return {k: _py_subst(v, named) for k, v in x.items()}
    return x


def _py_call(fn, args):
    result = fn(*args) if callable(fn) else fn
    if hasattr(result, '__await__'):
        import asyncio
        result = asyncio.run(_await(result))
    return result


async def _await(x):
    return await x


def _py_plain(x):
    try:
        import numpy
        if isinstance(x, numpy.ndarray):
            return x.tolist()
        if isinstance(x, numpy.generic):
            return x.item()
    except ImportError:
        pass
    if isinstance(x, (bytes, bytearray)):
        return list(x)   # as Node returns a Uint8Array
    if isinstance(x, (list, tuple)):
        return [_py_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _py_plain(v) for k, v in x.items()}
    return x


def run_py_many(module, target, cases, setup=None):
    """Results of ``target(*case)`` for each case under CPython (same rules as run_js_many)."""
    mod = import_py(module)
    named = {}
    for name, step_target, args in (setup or []):
        fn = _py_resolve(mod, step_target, named)
        try:
            named[name] = _py_call(fn, _py_subst(_json_round_trip(args), named))
        except Exception as e:
            raise ParityError('setup step %r failed in CPython: %r' % (name, e)) from e
    results = []
    for args in cases:
        try:
            fn = _py_resolve(mod, target, named)
            value = _py_call(fn, _py_subst(_json_round_trip(args), named))
            results.append(_json_round_trip(_py_plain(value)))
        except Exception as e:
            results.append({'__error__': {'type': type(e).__name__, 'message': str(e)}})
    return results


def run_py(module, target, args, setup=None):
    """Result of ``target(*args)`` under CPython (the single-case form of run_py_many)."""
    return run_py_many(module, target, [args], setup)[0]
