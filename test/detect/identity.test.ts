import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageBaseName, normalizeExecutable, processIdentity } from '../../src/detect/identity.js';
import { classifyLibrary } from '../../src/detect/libraries.js';
import { proc } from './helpers.js';

describe('process identity', () => {
  it('normalises Windows paths: case, user names, prefixes, versions', () => {
    assert.equal(normalizeExecutable('C:\\Users\\stevie.marie\\Downloads\\winx64_payload.exe'), 'c:\\users\\<user>\\downloads\\winx64_payload.exe');
    assert.equal(normalizeExecutable('C:\\Users\\NORA~1.QUE\\AppData\\Local\\Temp\\RarSFX1\\x.exe'), 'c:\\users\\<user>\\appdata\\local\\temp\\rarsfx1\\x.exe');
    assert.equal(normalizeExecutable('\\\\?\\C:\\Windows\\system32\\svchost.exe'), 'c:\\windows\\system32\\svchost.exe');
    assert.equal(normalizeExecutable('\\SystemRoot\\System32\\smss.exe'), 'c:\\windows\\system32\\smss.exe');
    assert.equal(
      normalizeExecutable('C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\92.0.902.67\\identity_helper.exe'),
      'c:\\program files (x86)\\microsoft\\edge\\application\\<version>\\identity_helper.exe',
    );
    assert.equal(normalizeExecutable('<unknown process>'), '<unknown>');
    assert.equal(normalizeExecutable(null), '<unknown>');
  });

  it('normalises Linux paths: home directories, deleted images, snaps', () => {
    assert.equal(normalizeExecutable('/home/alice/.local/bin/tool'), '/home/<user>/.local/bin/tool');
    assert.equal(normalizeExecutable('/tmp/x (deleted)'), '/tmp/x');
    assert.equal(normalizeExecutable('/snap/firefox/4173/usr/lib/firefox/firefox'), '/snap/firefox/<rev>/usr/lib/firefox/firefox');
    assert.equal(normalizeExecutable('/usr/bin/Curl'), '/usr/bin/Curl', 'case kept on Linux');
  });

  it('keys by signer when signed, else by hash (or path when configured)', () => {
    const signed = processIdentity(proc({ executable: 'C:\\Windows\\System32\\svchost.exe', code_signature: { signed: true, subject: 'Microsoft Windows' } }), { unsigned: 'hash' });
    assert.equal(signed.key, 'c:\\windows\\system32\\svchost.exe|signer:microsoft windows');
    assert.equal(signed.basis, 'signer');
    const bySha = processIdentity(proc({ hash: { sha256: 'AB'.repeat(32) } }), { unsigned: 'hash' });
    assert.equal(bySha.key, `/usr/bin/curl|sha256:${'ab'.repeat(32)}`);
    assert.equal(processIdentity(proc(), { unsigned: 'path' }).key, '/usr/bin/curl|path');
    const unsignedFlag = processIdentity(proc({ code_signature: { signed: false, subject: 'Evil' }, hash: null }), { unsigned: 'hash' });
    assert.equal(unsignedFlag.key, '/usr/bin/curl|path');
  });

  it('base names and library classes', () => {
    assert.equal(imageBaseName('C:\\Windows\\System32\\SCHANNEL.DLL'), 'schannel.dll');
    assert.deepEqual(classifyLibrary({ path: 'C:\\Windows\\System32\\schannel.dll', category: 'crypto' }), { family: 'schannel', strength: 'provider' });
    assert.deepEqual(classifyLibrary({ path: '/usr/lib/x86_64-linux-gnu/libssl.so.3', category: '' }), { family: 'openssl', strength: 'provider' });
    assert.deepEqual(classifyLibrary({ path: '/usr/lib/x86_64-linux-gnu/libssl3.so', category: '' }), { family: 'nss', strength: 'provider' });
    assert.deepEqual(classifyLibrary({ path: 'C:\\Windows\\System32\\winhttp.dll', category: 'tls_stack' }), { family: null, strength: 'http' });
    assert.deepEqual(classifyLibrary({ path: '/usr/lib/libcrypto.so.3', category: '' }), { family: null, strength: 'crypto' });
    assert.deepEqual(classifyLibrary({ path: '/opt/x/libweird.so', category: 'tls_stack' }), { family: null, strength: 'provider' });
  });
});
