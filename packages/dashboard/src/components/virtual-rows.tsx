import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { type RefObject, useCallback, useLayoutEffect, useRef, useState } from 'react';

/** Tables longer than this render only the rows near the viewport (TanStack Virtual). */
export const virtualiseFrom = 200;

/** What a table body renders: the rows in view, and the space that stands for the others. */
export interface VirtualRows {
  /** Attach to the `<tbody>`: its position on the page is where the rows start. */
  bodyRef: RefObject<HTMLTableSectionElement | null>;
  /** The indexes of the rows to render, in order. */
  indexes: number[];
  /** Height (px) of the spacer row before and after the rendered rows; 0 when not virtualised. */
  before: number;
  after: number;
  /** Pass as `ref` of each rendered `<tr>` (with `data-index`), so its real height is used. */
  measure: ((element: Element | null) => void) | undefined;
}

/**
 * Rows of a long table in a page that scrolls as a whole: below `virtualiseFrom` rows every row
 * is rendered; above, only those near the viewport, with spacer rows for the rest, so a table of
 * thousands of rows costs what a screenful does when it grows or updates.
 */
export function useVirtualRows(count: number, keyOf: (index: number) => string): VirtualRows {
  const bodyRef = useRef<HTMLTableSectionElement | null>(null);
  const [scrollMargin, setScrollMargin] = useState(0);
  const virtual = count >= virtualiseFrom;
  useLayoutEffect(() => {
    const body = bodyRef.current;
    if (!virtual || !body) return;
    const top = body.getBoundingClientRect().top + window.scrollY;
    setScrollMargin((current) => (Math.abs(current - top) > 1 ? top : current));
  });
  const virtualizer = useWindowVirtualizer({
    count: virtual ? count : 0,
    estimateSize: () => 37,
    overscan: 15,
    scrollMargin,
    getItemKey: keyOf,
  });
  // Rows without a layout (height 0: a test DOM, a hidden tab) keep the estimate: measuring
  // them as 0 px would put every row "in view". Stable, so React does not re-attach (and
  // re-measure) every row on each render.
  const latest = useRef(virtualizer);
  latest.current = virtualizer;
  const measure = useCallback((element: Element | null) => {
    if (element && element.getBoundingClientRect().height > 0)
      latest.current.measureElement(element);
  }, []);
  if (!virtual) {
    return {
      bodyRef,
      indexes: Array.from({ length: count }, (_, index) => index),
      before: 0,
      after: 0,
      measure: undefined,
    };
  }
  const items = virtualizer.getVirtualItems();

  const first = items[0];
  const last = items[items.length - 1];
  return {
    bodyRef,
    indexes: items.map((item) => item.index),
    before: first ? first.start - scrollMargin : 0,
    after: last ? virtualizer.getTotalSize() - (last.end - scrollMargin) : 0,
    measure,
  };
}
