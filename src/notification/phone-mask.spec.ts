import { maskPhone } from './phone-mask';

describe('maskPhone', () => {
  it('keeps the prefix and the last four digits', () => {
    expect(maskPhone('+14155554567')).toBe('+1******4567');
    expect(maskPhone('+442071838750')).toBe('+4*******8750');
  });

  it('never prints a short number whole', () => {
    expect(maskPhone('+1234')).toBe('***34');
    expect(maskPhone('')).toBe('');
  });
});
