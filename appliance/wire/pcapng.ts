/**
 * pcapng's numbers (draft-ietf-opsawg-pcapng, "PCAP Now Generic"), shared by the writer of
 * the drop capture (capture/pcapng.ts) and the reader of replay (replay/pcapng.ts), so that
 * both speak the same format from the one list.
 */

/** Block types (section 4 and 10.1). The Section Header Block's reads the same in either byte order: a pcapng file's first four bytes. */
export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
/** The obsolete Packet Block (appendix A). */
export const BLOCK_OPB = 0x00000002;
export const BLOCK_SPB = 0x00000003;
export const BLOCK_EPB = 0x00000006;

/** The SHB's byte-order magic (4.1), as written; read in the other byte order, it is 0x4d3c2b1a. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;

/** Option codes (3.5): opt_endofopt and opt_comment in any block, shb_userappl (4.1), if_name and if_tsresol (4.2). */
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_TSRESOL = 9;

/** LINKTYPE_ETHERNET of the tcpdump.org link-layer header types, pcap's and pcapng's alike. */
export const LINKTYPE_ETHERNET = 1;
