// A small RFC 4180 CSV reader: quoted fields (with "" escapes and embedded commas or newlines),
// CRLF or LF line ends, and a header row naming the columns.
import { InvalidInputError } from './errors.js';

export interface CsvTable {
  columns: string[];
  /** One record per data row, keyed by column name. */
  rows: Record<string, string>[];
}

function splitRecords(text: string, where: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field.length === 0) quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
  }
  if (quoted) throw new InvalidInputError(`${where}: unterminated quoted field`);
  if (field.length > 0 || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** Parses CSV text whose first row names the columns; `where` names the source in errors. */
export function parseCsv(text: string, where: string): CsvTable {
  const records = splitRecords(text.replace(/^\uFEFF/, ''), where);
  if (records.length === 0) throw new InvalidInputError(`${where}: empty CSV (no header row)`);
  const columns = records[0].map((c) => c.trim());
  const rows = records.slice(1).map((values, i) => {
    if (values.length !== columns.length) {
      throw new InvalidInputError(
        `${where}: row ${i + 2} has ${values.length} fields, the header has ${columns.length}`,
      );
    }
    return Object.fromEntries(columns.map((c, k) => [c, values[k]]));
  });
  return { columns, rows };
}
