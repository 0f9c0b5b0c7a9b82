import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKey } from '../../src/api/client-key.ts';

describe('clientKey: who a request counts against', () => {
  it('an IPv4 address is its own key', () => {
    assert.equal(clientKey('1.2.3.4'), '1.2.3.4');
    assert.notEqual(clientKey('1.2.3.4'), clientKey('1.2.3.5'));
  });

  it('an IPv4-mapped IPv6 address is the IPv4 address, in any spelling', () => {
    for (const mapped of ['::ffff:1.2.3.4', '::FFFF:1.2.3.4', '0:0:0:0:0:ffff:102:304', '::ffff:0102:0304'])
      assert.equal(clientKey(mapped), '1.2.3.4', mapped);
  });

  it('two addresses in one /64 share a key; another /64 has its own', () => {
    const a = clientKey('2001:db8:1:2::1');
    assert.equal(a, '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8:1:2:ffff:eeee:dddd:cccc'), a);
    assert.equal(clientKey('2001:0DB8:0001:0002:0:0:0:9'), a, 'case and leading zeros do not matter');
    assert.notEqual(clientKey('2001:db8:1:3::1'), a);
  });

  it('handles the short forms: ::1, ::, a zone, an IPv4 tail that is not a mapping', () => {
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey('::'), '0:0:0:0::/64');
    assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientKey('64:ff9b::1.2.3.4'), '64:ff9b:0:0::/64');
  });

  it('leaves anything that is not an IP address as it is', () => {
    assert.equal(clientKey('unix-socket'), 'unix-socket');
    assert.equal(clientKey(''), '');
  });
});
