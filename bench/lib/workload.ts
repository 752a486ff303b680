import { randomBytes } from 'node:crypto';

/**
 * What the benchmark sends: a Python file of about 8 KB before the cursor, a few lines after it,
 * the cursor at the end of `    subtotal_<unique> = ` (mid-function, after an `=`, so no "don't
 * complete here" rule fires and the line mode is single-line). The unique name makes every request
 * a different document, so no cache anywhere can answer it.
 */

/** What the fake model streams: one line, no line break, so a single-line answer reads all of it. */
export const COMPLETION_TEXT =
  'sum(line.unit_price * line.quantity for line in order.lines if not line.refunded)';

/** Placeholders filled per request: a unique number and the virtual client's completion stream. */
const UNIQUE = '\u0000unique\u0000';
const STREAM = '\u0000stream\u0000';

const HEADER = `"""Order book utilities: pricing, discounts and reporting for the storefront service."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import logging
from collections import defaultdict
from typing import Iterable, Iterator, Mapping, Sequence

logger = logging.getLogger(__name__)

CENTS = decimal.Decimal("0.01")
DEFAULT_CURRENCY = "EUR"
`;

const ENTITIES = ['customer', 'invoice', 'shipment', 'product', 'warehouse', 'coupon', 'refund', 'supplier'];
const FIELDS = ['name', 'email', 'region', 'status', 'created_at', 'amount', 'reference', 'priority'];

function section(entity: string, i: number): string {
  const cls = entity[0]!.toUpperCase() + entity.slice(1);
  const f1 = FIELDS[i % FIELDS.length]!;
  const f2 = FIELDS[(i + 3) % FIELDS.length]!;
  return `

@dataclasses.dataclass(frozen=True)
class ${cls}:
    id: int
    ${f1}: str
    ${f2}: str
    tags: tuple[str, ...] = ()

    def label(self) -> str:
        return f"${cls} #{self.id} ({self.${f1}})"


def load_${entity}s(rows: Iterable[Mapping[str, object]]) -> list[${cls}]:
    """Builds ${entity} records from database rows, skipping rows without an id."""
    result: list[${cls}] = []
    for row in rows:
        if row.get("id") is None:
            logger.warning("skipping ${entity} row without id: %r", row)
            continue
        result.append(
            ${cls}(
                id=int(row["id"]),
                ${f1}=str(row.get("${f1}", "")),
                ${f2}=str(row.get("${f2}", "")),
                tags=tuple(sorted(str(t) for t in row.get("tags", ()) or ())),
            )
        )
    return result


def index_${entity}s_by_${f1}(items: Sequence[${cls}]) -> dict[str, list[${cls}]]:
    index: dict[str, list[${cls}]] = defaultdict(list)
    for item in items:
        index[item.${f1}].append(item)
    return dict(index)
`;
}

const TAIL = `

@dataclasses.dataclass
class OrderLine:
    sku: str
    unit_price: decimal.Decimal
    quantity: int
    refunded: bool = False


@dataclasses.dataclass
class Order:
    id: int
    customer_id: int
    placed_at: dt.datetime
    lines: list[OrderLine]
    currency: str = DEFAULT_CURRENCY


def iter_open_orders(orders: Iterable[Order], since: dt.datetime) -> Iterator[Order]:
    for order in orders:
        if order.placed_at >= since and order.lines:
            yield order


def revenue_by_customer(orders: Iterable[Order], since: dt.datetime) -> dict[int, decimal.Decimal]:
    """Sums what each customer paid since \`since\`, refunds excluded, rounded to cents."""
    totals: dict[int, decimal.Decimal] = defaultdict(decimal.Decimal)
    for order in iter_open_orders(orders, since):
        subtotal_${UNIQUE} = `;

export const SUFFIX = `
        totals[order.customer_id] += subtotal.quantize(CENTS)
    return dict(totals)
`;

/** The document before the cursor with a placeholder for the unique name; about `bytes` long. */
function prefixTemplate(bytes: number): string {
  let body = HEADER;
  for (let i = 0; body.length + TAIL.length < bytes && i < 100; i++) {
    body += section(ENTITIES[i % ENTITIES.length]!, i);
  }
  return body + TAIL;
}

export const PREFIX_TEMPLATE = prefixTemplate(8 * 1024);

/** DeepSeek-Coder FIM, as Shenma builds it for `family: deepseek-coder`: same bytes upstream. */
const fim = (prefix: string, suffix: string) =>
  `<｜fim▁begin｜>${prefix}<｜fim▁hole｜>${suffix}<｜fim▁end｜>`;

export interface Fill {
  /** Distinct per request (digits). */
  unique: string;
  /** Distinct per virtual client (16 hex), like the extension's per-session completion stream. */
  stream: string;
}

/** A JSON body split around its placeholders, so a request costs a join, not a stringify. */
export class BodyTemplate {
  /** Literal text at even indexes, placeholder names at odd ones. */
  private readonly parts: string[];
  constructor(value: unknown) {
    // JSON escapes the NUL bytes as \u0000, which no real text here contains.
    this.parts = JSON.stringify(value).split(/\\u0000(unique|stream)\\u0000/);
  }
  render(fill: Fill): string {
    let out = '';
    for (let i = 0; i < this.parts.length; i++) {
      const p = this.parts[i]!;
      out += i % 2 === 0 ? p : fill[p as keyof Fill];
    }
    return out;
  }
}

export const newStreamId = () => randomBytes(8).toString('hex');

/** The Zhuge Shenma extension 1.2.x body (docs/protocol.md §4.2), identity headers inside the JSON. */
/** `verbose` asks Shenma for its own timings (`debug.timings_ms`); the extension never sets it. */
export function extensionBody(opts: { verbose?: boolean } = {}): BodyTemplate {
  const prefix = PREFIX_TEMPLATE;
  return new BodyTemplate({
    headers: {
      ide: 'vscode',
      'ide-version': '1.2.0',
      'ide-real-version': '1.98.2',
      'host-ip': '127.0.0.1',
      'api-key': 'bench-token',
    },
    model: 'fastertransformer',
    temperature: 0.1,
    stop: [],
    completion_id: `${UNIQUE}-${STREAM}`,
    prompt_options: {
      prefix,
      suffix: SUFFIX,
      cursor_line_prefix: `        subtotal_${UNIQUE} = `,
      cursor_line_suffix: '',
    },
    language_id: 'python',
    beta_mode: false,
    calculate_hide_score: {
      is_whitespace_after_cursor: true,
      prefix,
      document_length: prefix.length + SUFFIX.length,
      prompt_end_pos: prefix.length,
      previous_label: 0,
      previous_label_timestamp: 1741234567890,
    },
    file_project_path: '',
    project_path: '',
    code_path: '',
    user_id: '',
    git_path: '',
    repo: 'storefront',
    ...(opts.verbose ? { verbose: true } : {}),
  });
}

/** The equivalent OpenAI-style request a plain proxy forwards untouched. */
export function openAiBody(): BodyTemplate {
  return new BodyTemplate({
    model: 'coder',
    prompt: fim(PREFIX_TEMPLATE, SUFFIX),
    max_tokens: 256,
    temperature: 0.1,
    stream: true,
  });
}
