#!/usr/bin/env node
// A command-line face for the npm `solc` package (the wasm compiler), shaped the way
// py-solc-x drives a native solc binary: `--version` and `--standard-json`, with
// `--base-path`, `--include-path` and `--allow-paths` for resolving imports.
// The JSON output is written with one stdout.write and no process.exit after it, so a
// pipe reader never sees it truncated.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: process.cwd(), includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--version': opts.version = true; break;
      case '--standard-json': opts.standardJson = true; break;
      case '--base-path': opts.basePath = path.resolve(value()); break;
      case '--include-path': opts.includePaths.push(path.resolve(value())); break;
      case '--allow-paths': opts.allowPaths.push(...value().split(',').map((p) => path.resolve(p))); break;
      default:
        process.stderr.write(`solc-shim: unsupported argument ${arg}\n`);
        process.exitCode = 2;
        return null;
    }
  }
  return opts;
}

function importResolver(opts) {
  const roots = [opts.basePath, ...opts.includePaths, path.join(opts.basePath, 'node_modules')];
  return (importPath) => {
    if (path.isAbsolute(importPath) || importPath.split('/').includes('..')) {
      return { error: `import outside the source tree refused: ${importPath}` };
    }
    for (const root of roots) {
      const candidate = path.join(root, importPath);
      if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
    }
    return { error: `file not found: ${importPath}` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts === null) return;
  if (opts.version) {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return;
  }
  if (!opts.standardJson) {
    process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
    process.exitCode = 2;
    return;
  }
  const input = fs.readFileSync(0, 'utf8');
  const output = solc.compile(input, { import: importResolver(opts) });
  process.stdout.write(output);
}

main();
