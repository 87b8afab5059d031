/**
 * The JSON baseline's schema: pacs.008.001.08 content as an API would carry it in JSON (see messages.ts for the
 * shape), compiled once by ajv. Not the full ISO schema: it covers what the gateway reads and what the bench
 * fixtures carry —
 *
 *   - AppHdr: Fr/To BICFI, BizMsgIdr, MsgDefIdr, BizSvc, CreDt (required fields, lengths, patterns);
 *   - GrpHdr: MsgId, CreDtTm, NbOfTxs, CtrlSum, SttlmInf/SttlmMtd (required, Max35Text, ISODateTime,
 *     Max15NumericText, decimal, enumeration);
 *   - CdtTrfTxInf: an array of 1–1000 items with PmtId (EndToEndId required, UETR pattern), IntrBkSttlmAmt
 *     (currency pattern, 18 digits / 5 fraction digits), IntrBkSttlmDt, ChrgBr (enumeration), the agents
 *     (BICFI/LEI patterns), debtor and creditor (Nm ≤ 140, postal address lengths, country code), accounts
 *     (IBAN pattern, Othr/Id ≤ 34), Purp, RmtInf/Ustrd (≤ 140 each);
 *   - additionalProperties: false wherever an element's content is modelled completely, so an unknown
 *     member is refused as the XSD would refuse an unknown element. Elements the bench does not model
 *     (PmtTpInf, Strd, CtctDtls, …) are accepted as any object.
 */
import { Ajv, type ValidateFunction } from 'ajv';

const text = (max: number) => ({ type: 'string', minLength: 1, maxLength: max });
const pattern = (regex: string) => ({ type: 'string', pattern: regex });
const object = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const anyObject = { type: 'object' };
const ref = (name: string) => ({ $ref: `#/$defs/${name}` });

const ISO_DATE = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';
const ISO_DATE_TIME = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$';

export const PACS008_JSON_SCHEMA = {
  $defs: {
    Max35Text: text(35),
    Max140Text: text(140),
    BICFI: pattern('^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
    Country: pattern('^[A-Z]{2}$'),
    Amount: object({ Ccy: pattern('^[A-Z]{3}$'), value: pattern('^(?=[0-9.]{1,19}$)[0-9]+(\\.[0-9]{1,5})?$') }, ['Ccy', 'value']),
    PostalAddress: object({
      AdrTp: anyObject, Dept: text(70), SubDept: text(70), StrtNm: text(70), BldgNb: text(16), BldgNm: text(35),
      Flr: text(70), PstBx: text(16), Room: text(70), PstCd: text(16), TwnNm: text(35), TwnLctnNm: text(35),
      DstrctNm: text(35), CtrySubDvsn: text(35), Ctry: ref('Country'),
      AdrLine: { type: 'array', maxItems: 7, items: text(70) },
    }),
    Agent: object({
      FinInstnId: object({
        BICFI: ref('BICFI'), ClrSysMmbId: anyObject, LEI: pattern('^[A-Z0-9]{18}[0-9]{2}$'), Nm: ref('Max140Text'),
        PstlAdr: ref('PostalAddress'), Othr: anyObject,
      }),
      BrnchId: anyObject,
    }, ['FinInstnId']),
    Party: object({ Nm: ref('Max140Text'), PstlAdr: ref('PostalAddress'), Id: anyObject, CtryOfRes: ref('Country'), CtctDtls: anyObject }),
    Account: object({
      Id: {
        type: 'object',
        minProperties: 1,
        maxProperties: 1,
        properties: { IBAN: pattern('^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}$'), Othr: object({ Id: text(34), SchmeNm: anyObject, Issr: ref('Max35Text') }, ['Id']) },
        additionalProperties: false,
      },
      Tp: anyObject, Ccy: pattern('^[A-Z]{3}$'), Nm: text(70), Prxy: anyObject,
    }, ['Id']),
    Transaction: object({
      PmtId: object({
        InstrId: ref('Max35Text'), EndToEndId: ref('Max35Text'), TxId: ref('Max35Text'),
        UETR: pattern('^[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$'), ClrSysRef: ref('Max35Text'),
      }, ['EndToEndId']),
      PmtTpInf: anyObject,
      IntrBkSttlmAmt: ref('Amount'),
      IntrBkSttlmDt: pattern(ISO_DATE),
      SttlmPrty: { enum: ['URGT', 'HIGH', 'NORM'] },
      InstdAmt: ref('Amount'),
      XchgRate: pattern('^[0-9]{1,11}(\\.[0-9]{1,10})?$'),
      ChrgBr: { enum: ['DEBT', 'CRED', 'SHAR', 'SLEV'] },
      ChrgsInf: { type: 'array', items: object({ Amt: ref('Amount'), Agt: ref('Agent') }, ['Amt', 'Agt']) },
      PrvsInstgAgt1: ref('Agent'), PrvsInstgAgt1Acct: ref('Account'),
      InstgAgt: ref('Agent'), InstdAgt: ref('Agent'),
      IntrmyAgt1: ref('Agent'), IntrmyAgt1Acct: ref('Account'),
      IntrmyAgt2: ref('Agent'), IntrmyAgt2Acct: ref('Account'),
      IntrmyAgt3: ref('Agent'), IntrmyAgt3Acct: ref('Account'),
      UltmtDbtr: ref('Party'), InitgPty: ref('Party'),
      Dbtr: ref('Party'), DbtrAcct: ref('Account'), DbtrAgt: ref('Agent'), DbtrAgtAcct: ref('Account'),
      CdtrAgt: ref('Agent'), CdtrAgtAcct: ref('Account'), Cdtr: ref('Party'), CdtrAcct: ref('Account'),
      UltmtCdtr: ref('Party'),
      InstrForCdtrAgt: { type: 'array', maxItems: 2, items: object({ Cd: { enum: ['CHQB', 'HOLD', 'PHOB', 'TELB'] }, InstrInf: text(140) }) },
      InstrForNxtAgt: { type: 'array', maxItems: 6, items: anyObject },
      Purp: object({ Cd: text(4), Prtry: ref('Max35Text') }),
      RgltryRptg: { type: 'array', maxItems: 10, items: anyObject },
      RmtInf: object({ Ustrd: { type: 'array', items: ref('Max140Text') }, Strd: { type: 'array', items: anyObject } }),
      SplmtryData: { type: 'array', items: anyObject },
    }, ['PmtId', 'IntrBkSttlmAmt', 'ChrgBr', 'Dbtr', 'DbtrAgt', 'CdtrAgt', 'Cdtr']),
  },
  type: 'object',
  additionalProperties: false,
  required: ['Document'],
  properties: {
    AppHdr: object({
      Fr: object({ FIId: ref('Agent') }, ['FIId']),
      To: object({ FIId: ref('Agent') }, ['FIId']),
      BizMsgIdr: ref('Max35Text'),
      MsgDefIdr: ref('Max35Text'),
      BizSvc: ref('Max35Text'),
      CreDt: pattern(ISO_DATE_TIME),
    }, ['Fr', 'To', 'BizMsgIdr', 'MsgDefIdr', 'CreDt']),
    Document: object({
      FIToFICstmrCdtTrf: object({
        GrpHdr: object({
          MsgId: ref('Max35Text'),
          CreDtTm: pattern(ISO_DATE_TIME),
          NbOfTxs: pattern('^[0-9]{1,15}$'),
          CtrlSum: pattern('^(?=[0-9.]{1,19}$)[0-9]+(\\.[0-9]{1,17})?$'),
          TtlIntrBkSttlmAmt: ref('Amount'),
          IntrBkSttlmDt: pattern(ISO_DATE),
          SttlmInf: object({ SttlmMtd: { enum: ['INDA', 'INGA', 'COVE', 'CLRG'] }, SttlmAcct: ref('Account'), ClrSys: anyObject }, ['SttlmMtd']),
          InstgAgt: ref('Agent'),
          InstdAgt: ref('Agent'),
        }, ['MsgId', 'CreDtTm', 'NbOfTxs', 'SttlmInf']),
        CdtTrfTxInf: { type: 'array', minItems: 1, maxItems: 1000, items: ref('Transaction') },
        SplmtryData: { type: 'array', items: anyObject },
      }, ['GrpHdr', 'CdtTrfTxInf']),
    }, ['FIToFICstmrCdtTrf']),
  },
} as const;

/** Compiled once, as the gateway would at boot; `allErrors` off (stop at the first error), as is usual on a hot path. */
export function compilePacs008JsonValidator(): ValidateFunction {
  return new Ajv({ allErrors: false, strict: true }).compile(PACS008_JSON_SCHEMA);
}
