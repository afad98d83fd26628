import { classifyAddress, ForbiddenAddressError, resolveAllowed } from './address-guard';

describe('webhook address guard', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.254', 'cgnat'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['169.254.1.1', 'link_local'],
    ['fe80::1', 'link_local'],
    ['fd12:3456::1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['224.0.0.1', 'multicast'],
    ['[::1]', 'loopback'],
  ])('%s is %s', (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
  });

  it.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '93.184.216.34'])('%s is public', (address) => {
    expect(classifyAddress(address)).toBe('public');
  });

  it('refuses a name when any of its addresses is not public, unless private targets are allowed', async () => {
    const resolver = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ];
    await expect(resolveAllowed('rebind.example', false, resolver)).rejects.toBeInstanceOf(ForbiddenAddressError);
    await expect(resolveAllowed('rebind.example', true, resolver)).resolves.toHaveLength(2);
    await expect(resolveAllowed('public.example', false, async () => [{ address: '93.184.216.34', family: 4 }])).resolves.toHaveLength(1);
  });

  it('checks IP literals without resolving them', async () => {
    const resolver = jest.fn();
    await expect(resolveAllowed('[::1]', false, resolver)).rejects.toThrow(/loopback/);
    await expect(resolveAllowed('169.254.169.254', false, resolver)).rejects.toThrow(/metadata/);
    expect(resolver).not.toHaveBeenCalled();
  });
});
