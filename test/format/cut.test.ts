import { describe, expect, it } from 'vitest';
import { cutChars } from '../../lib/format/cut.ts';

describe('Function: cutChars', () => {
  it('should mark a cut with an ellipsis and count code points, not UTF-16 units', () => {
    // Act & Assess
    expect(cutChars('🔥🔥🔥🔥', 3)).toBe('🔥🔥…');
    expect(cutChars('😀😀😀', 3)).toBe('😀😀😀');
    expect(cutChars('😀😀😀😀', 3)).toBe('😀😀…');
    expect(cutChars('abc', 3)).toBe('abc');
    expect(cutChars('HighLatency', 5)).toBe('High…');
  });
});
