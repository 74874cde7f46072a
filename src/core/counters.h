/*
 * Counters named as Linux's SNMP MIBs (/proc/net/snmp and /proc/net/netstat),
 * each incremented where Linux increments it.  "Synack" counters name drop
 * reasons Linux folds into coarser counters, so every drop has a name.
 */
#ifndef SK_COUNTERS_H
#define SK_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#define SK_COUNTER_LIST(X)                                   \
    X(IP_IN_RECEIVES, "Ip", "InReceives")                    \
    X(IP_IN_HDR_ERRORS, "Ip", "InHdrErrors")                 \
    X(IP_IN_ADDR_ERRORS, "Ip", "InAddrErrors")               \
    X(IP_IN_UNKNOWN_PROTOS, "Ip", "InUnknownProtos")         \
    X(IP_IN_DISCARDS, "Ip", "InDiscards")                    \
    X(IP_IN_DELIVERS, "Ip", "InDelivers")                    \
    X(IP_OUT_REQUESTS, "Ip", "OutRequests")                  \
    X(IP_OUT_DISCARDS, "Ip", "OutDiscards")                  \
    X(IP_REASM_FAILS, "Ip", "ReasmFails")                    \
    X(IPEXT_IN_TRUNCATED_PKTS, "IpExt", "InTruncatedPkts")   \
    X(IPEXT_IN_CSUM_ERRORS, "IpExt", "InCsumErrors")         \
    X(ICMP_IN_MSGS, "Icmp", "InMsgs")                        \
    X(ICMP_IN_ERRORS, "Icmp", "InErrors")                    \
    X(ICMP_IN_CSUM_ERRORS, "Icmp", "InCsumErrors")           \
    X(ICMP_IN_DEST_UNREACHS, "Icmp", "InDestUnreachs")       \
    X(ICMP_IN_TIME_EXCDS, "Icmp", "InTimeExcds")             \
    X(ICMP_IN_PARM_PROBS, "Icmp", "InParmProbs")             \
    X(ICMP_IN_SRC_QUENCHS, "Icmp", "InSrcQuenchs")           \
    X(ICMP_IN_REDIRECTS, "Icmp", "InRedirects")              \
    X(ICMP_IN_ECHOS, "Icmp", "InEchos")                      \
    X(ICMP_IN_ECHO_REPS, "Icmp", "InEchoReps")               \
    X(ICMP_IN_TIMESTAMPS, "Icmp", "InTimestamps")            \
    X(ICMP_IN_TIMESTAMP_REPS, "Icmp", "InTimestampReps")     \
    X(ICMP_IN_ADDR_MASKS, "Icmp", "InAddrMasks")             \
    X(ICMP_IN_ADDR_MASK_REPS, "Icmp", "InAddrMaskReps")      \
    X(ICMP_OUT_MSGS, "Icmp", "OutMsgs")                      \
    X(ICMP_OUT_ERRORS, "Icmp", "OutErrors")                  \
    X(ICMP_OUT_RATE_LIMIT_GLOBAL, "Icmp", "OutRateLimitGlobal") \
    X(ICMP_OUT_RATE_LIMIT_HOST, "Icmp", "OutRateLimitHost")  \
    X(ICMP_OUT_ECHO_REPS, "Icmp", "OutEchoReps")             \
    X(ICMPMSG_IN_TYPE0, "IcmpMsg", "InType0")                            \
    X(ICMPMSG_IN_TYPE1, "IcmpMsg", "InType1")                            \
    X(ICMPMSG_IN_TYPE2, "IcmpMsg", "InType2")                            \
    X(ICMPMSG_IN_TYPE3, "IcmpMsg", "InType3")                            \
    X(ICMPMSG_IN_TYPE4, "IcmpMsg", "InType4")                            \
    X(ICMPMSG_IN_TYPE5, "IcmpMsg", "InType5")                            \
    X(ICMPMSG_IN_TYPE6, "IcmpMsg", "InType6")                            \
    X(ICMPMSG_IN_TYPE7, "IcmpMsg", "InType7")                            \
    X(ICMPMSG_IN_TYPE8, "IcmpMsg", "InType8")                            \
    X(ICMPMSG_IN_TYPE9, "IcmpMsg", "InType9")                            \
    X(ICMPMSG_IN_TYPE10, "IcmpMsg", "InType10")                          \
    X(ICMPMSG_IN_TYPE11, "IcmpMsg", "InType11")                          \
    X(ICMPMSG_IN_TYPE12, "IcmpMsg", "InType12")                          \
    X(ICMPMSG_IN_TYPE13, "IcmpMsg", "InType13")                          \
    X(ICMPMSG_IN_TYPE14, "IcmpMsg", "InType14")                          \
    X(ICMPMSG_IN_TYPE15, "IcmpMsg", "InType15")                          \
    X(ICMPMSG_IN_TYPE16, "IcmpMsg", "InType16")                          \
    X(ICMPMSG_IN_TYPE17, "IcmpMsg", "InType17")                          \
    X(ICMPMSG_IN_TYPE18, "IcmpMsg", "InType18")                          \
    X(ICMPMSG_OUT_TYPE0, "IcmpMsg", "OutType0")                \
    X(IP6_IN_RECEIVES, "Ip6", "InReceives")                  \
    X(IP6_IN_HDR_ERRORS, "Ip6", "InHdrErrors")               \
    X(IP6_IN_ADDR_ERRORS, "Ip6", "InAddrErrors")             \
    X(IP6_IN_UNKNOWN_PROTOS, "Ip6", "InUnknownProtos")       \
    X(IP6_IN_TRUNCATED_PKTS, "Ip6", "InTruncatedPkts")       \
    X(IP6_IN_DISCARDS, "Ip6", "InDiscards")                  \
    X(IP6_IN_DELIVERS, "Ip6", "InDelivers")                  \
    X(IP6_OUT_REQUESTS, "Ip6", "OutRequests")                \
    X(IP6_OUT_DISCARDS, "Ip6", "OutDiscards")                \
    X(IP6_REASM_FAILS, "Ip6", "ReasmFails")                  \
    X(ICMP6_IN_MSGS, "Icmp6", "InMsgs")                      \
    X(ICMP6_IN_ERRORS, "Icmp6", "InErrors")                  \
    X(ICMP6_OUT_MSGS, "Icmp6", "OutMsgs")                    \
    X(ICMP6_IN_CSUM_ERRORS, "Icmp6", "InCsumErrors")         \
    X(ICMP6_IN_DEST_UNREACHS, "Icmp6", "InDestUnreachs")     \
    X(ICMP6_IN_PKT_TOO_BIGS, "Icmp6", "InPktTooBigs")        \
    X(ICMP6_IN_TIME_EXCDS, "Icmp6", "InTimeExcds")           \
    X(ICMP6_IN_PARM_PROBLEMS, "Icmp6", "InParmProblems")     \
    X(ICMP6_IN_ECHOS, "Icmp6", "InEchos")                    \
    X(ICMP6_IN_ECHO_REPLIES, "Icmp6", "InEchoReplies")       \
    X(ICMP6_IN_ROUTER_SOLICITS, "Icmp6", "InRouterSolicits") \
    X(ICMP6_IN_ROUTER_ADVERTISEMENTS, "Icmp6", "InRouterAdvertisements") \
    X(ICMP6_IN_NEIGHBOR_SOLICITS, "Icmp6", "InNeighborSolicits") \
    X(ICMP6_IN_NEIGHBOR_ADVERTISEMENTS, "Icmp6", "InNeighborAdvertisements") \
    X(ICMP6_IN_REDIRECTS, "Icmp6", "InRedirects")            \
    X(ICMP6_IN_MLD_V2_REPORTS, "Icmp6", "InMLDv2Reports")    \
    X(ICMP6_OUT_ECHO_REPLIES, "Icmp6", "OutEchoReplies")     \
    X(ICMP6_IN_TYPE1, "Icmp6", "InType1")                    \
    X(ICMP6_IN_TYPE2, "Icmp6", "InType2")                    \
    X(ICMP6_IN_TYPE3, "Icmp6", "InType3")                    \
    X(ICMP6_IN_TYPE4, "Icmp6", "InType4")                    \
    X(ICMP6_IN_TYPE128, "Icmp6", "InType128")                \
    X(ICMP6_IN_TYPE129, "Icmp6", "InType129")                \
    X(ICMP6_IN_TYPE133, "Icmp6", "InType133")                \
    X(ICMP6_IN_TYPE134, "Icmp6", "InType134")                \
    X(ICMP6_IN_TYPE135, "Icmp6", "InType135")                \
    X(ICMP6_IN_TYPE136, "Icmp6", "InType136")                \
    X(ICMP6_IN_TYPE137, "Icmp6", "InType137")                \
    X(ICMP6_IN_TYPE143, "Icmp6", "InType143")                \
    X(ICMP6_OUT_TYPE129, "Icmp6", "OutType129")              \
    X(TCP_ACTIVE_OPENS, "Tcp", "ActiveOpens")                \
    X(TCP_PASSIVE_OPENS, "Tcp", "PassiveOpens")              \
    X(TCP_ATTEMPT_FAILS, "Tcp", "AttemptFails")              \
    X(TCP_ESTAB_RESETS, "Tcp", "EstabResets")                \
    X(TCP_CURR_ESTAB, "Tcp", "CurrEstab")                    \
    X(TCP_IN_SEGS, "Tcp", "InSegs")                          \
    X(TCP_OUT_SEGS, "Tcp", "OutSegs")                        \
    X(TCP_RETRANS_SEGS, "Tcp", "RetransSegs")                \
    X(TCP_IN_ERRS, "Tcp", "InErrs")                          \
    X(TCP_OUT_RSTS, "Tcp", "OutRsts")                        \
    X(TCP_IN_CSUM_ERRORS, "Tcp", "InCsumErrors")             \
    X(TCPEXT_SYNCOOKIES_SENT, "TcpExt", "SyncookiesSent")    \
    X(TCPEXT_SYNCOOKIES_RECV, "TcpExt", "SyncookiesRecv")    \
    X(TCPEXT_SYNCOOKIES_FAILED, "TcpExt", "SyncookiesFailed") \
    X(TCPEXT_EMBRYONIC_RSTS, "TcpExt", "EmbryonicRsts")      \
    X(TCPEXT_PAWS_ESTAB, "TcpExt", "PAWSEstab")              \
    X(TCPEXT_TW, "TcpExt", "TW")                             \
    X(TCPEXT_TW_RECYCLED, "TcpExt", "TWRecycled")            \
    X(TCPEXT_TW_KILLED, "TcpExt", "TWKilled")                \
    X(TCPEXT_DELAYED_ACKS, "TcpExt", "DelayedACKs")          \
    X(TCPEXT_LISTEN_OVERFLOWS, "TcpExt", "ListenOverflows")  \
    X(TCPEXT_LISTEN_DROPS, "TcpExt", "ListenDrops")          \
    X(TCPEXT_TCP_PURE_ACKS, "TcpExt", "TCPPureAcks")         \
    X(TCPEXT_TCP_HP_ACKS, "TcpExt", "TCPHPAcks")             \
    X(TCPEXT_TCP_SACK_RECOVERY, "TcpExt", "TCPSackRecovery") \
    X(TCPEXT_TCP_RENO_RECOVERY, "TcpExt", "TCPRenoRecovery") \
    X(TCPEXT_TCP_FAST_RETRANS, "TcpExt", "TCPFastRetrans")   \
    X(TCPEXT_TCP_SLOW_START_RETRANS, "TcpExt", "TCPSlowStartRetrans") \
    X(TCPEXT_TCP_TIMEOUTS, "TcpExt", "TCPTimeouts")          \
    X(TCPEXT_TCP_LOSS_PROBES, "TcpExt", "TCPLossProbes")     \
    X(TCPEXT_TCP_OFO_QUEUE, "TcpExt", "TCPOFOQueue")         \
    X(TCPEXT_TCP_OFO_DROP, "TcpExt", "TCPOFODrop")           \
    X(TCPEXT_TCP_DSACK_OLD_SENT, "TcpExt", "TCPDSACKOldSent") \
    X(TCPEXT_TCP_DSACK_OFO_SENT, "TcpExt", "TCPDSACKOfoSent") \
    X(TCPEXT_TCP_DSACK_RECV, "TcpExt", "TCPDSACKRecv")       \
    X(TCPEXT_TCP_DSACK_OFO_RECV, "TcpExt", "TCPDSACKOfoRecv") \
    X(TCPEXT_TCP_DSACK_UNDO, "TcpExt", "TCPDSACKUndo")       \
    X(TCPEXT_TCP_FULL_UNDO, "TcpExt", "TCPFullUndo")         \
    X(TCPEXT_TCP_OFO_MERGE, "TcpExt", "TCPOFOMerge")         \
    X(TCPEXT_DELAYED_ACK_LOST, "TcpExt", "DelayedACKLost")   \
    X(TCPEXT_TCP_SACK_REORDER, "TcpExt", "TCPSACKReorder")   \
    X(TCPEXT_TCP_ABORT_ON_DATA, "TcpExt", "TCPAbortOnData")  \
    X(TCPEXT_TCP_ABORT_ON_CLOSE, "TcpExt", "TCPAbortOnClose") \
    X(TCPEXT_TCP_ABORT_ON_MEMORY, "TcpExt", "TCPAbortOnMemory") \
    X(TCPEXT_TCP_ABORT_ON_TIMEOUT, "TcpExt", "TCPAbortOnTimeout") \
    X(TCPEXT_TCP_ABORT_ON_LINGER, "TcpExt", "TCPAbortOnLinger") \
    X(TCPEXT_TCP_ABORT_FAILED, "TcpExt", "TCPAbortFailed")   \
    X(TCPEXT_TCP_SYN_RETRANS, "TcpExt", "TCPSynRetrans")     \
    X(TCPEXT_TCP_CHALLENGE_ACK, "TcpExt", "TCPChallengeACK") \
    X(TCPEXT_TCP_SYN_CHALLENGE, "TcpExt", "TCPSYNChallenge") \
    X(TCPEXT_TCP_ACK_SKIPPED_SYN_RECV, "TcpExt", "TCPACKSkippedSynRecv") \
    X(TCPEXT_TCP_ACK_SKIPPED_PAWS, "TcpExt", "TCPACKSkippedPAWS") \
    X(TCPEXT_TCP_ACK_SKIPPED_SEQ, "TcpExt", "TCPACKSkippedSeq") \
    X(TCPEXT_TCP_ACK_SKIPPED_FIN_WAIT2, "TcpExt", "TCPACKSkippedFinWait2") \
    X(TCPEXT_TCP_ACK_SKIPPED_TIME_WAIT, "TcpExt", "TCPACKSkippedTimeWait") \
    X(TCPEXT_TCP_ACK_SKIPPED_CHALLENGE, "TcpExt", "TCPACKSkippedChallenge") \
    X(TCPEXT_TCP_KEEPALIVE, "TcpExt", "TCPKeepAlive")        \
    X(TCPEXT_TCP_TO_ZERO_WINDOW_ADV, "TcpExt", "TCPToZeroWindowAdv") \
    X(TCPEXT_TCP_FROM_ZERO_WINDOW_ADV, "TcpExt", "TCPFromZeroWindowAdv") \
    X(TCPEXT_TCP_ZERO_WINDOW_DROP, "TcpExt", "TCPZeroWindowDrop") \
    X(TCPEXT_TCP_RCV_Q_DROP, "TcpExt", "TCPRcvQDrop")        \
    X(TCPEXT_PRUNE_CALLED, "TcpExt", "PruneCalled")          \
    X(TCPEXT_RCV_PRUNED, "TcpExt", "RcvPruned")              \
    X(TCPEXT_OFO_PRUNED, "TcpExt", "OfoPruned")              \
    X(TCPEXT_TCP_RCV_COLLAPSED, "TcpExt", "TCPRcvCollapsed") \
    X(TCPEXT_BEYOND_WINDOW, "TcpExt", "BeyondWindow")        \
    X(TCPEXT_TCP_REQ_Q_FULL_DO_COOKIES, "TcpExt", "TCPReqQFullDoCookies") \
    X(TCPEXT_TCP_REQ_Q_FULL_DROP, "TcpExt", "TCPReqQFullDrop") \
    X(TCPEXT_TCP_TIME_WAIT_OVERFLOW, "TcpExt", "TCPTimeWaitOverflow") \
    X(TCPEXT_TCP_ORIG_DATA_SENT, "TcpExt", "TCPOrigDataSent") \
    X(TCPEXT_TCP_WIN_PROBE, "TcpExt", "TCPWinProbe")         \
    X(TCPEXT_TCP_ACK_COMPRESSED, "TcpExt", "TCPAckCompressed") \
    X(TCPEXT_PAWS_ACTIVE, "TcpExt", "PAWSActive")            \
    X(TCPEXT_TCP_BACKLOG_DROP, "TcpExt", "TCPBacklogDrop")   \
    X(TCPEXT_TCP_FAST_OPEN_ACTIVE, "TcpExt", "TCPFastOpenActive") \
    X(TCPEXT_TCP_FAST_OPEN_ACTIVE_FAIL, "TcpExt", "TCPFastOpenActiveFail") \
    X(TCPEXT_TCP_FAST_OPEN_PASSIVE, "TcpExt", "TCPFastOpenPassive") \
    X(TCPEXT_TCP_FAST_OPEN_PASSIVE_FAIL, "TcpExt", "TCPFastOpenPassiveFail") \
    X(TCPEXT_TCP_FAST_OPEN_LISTEN_OVERFLOW, "TcpExt", "TCPFastOpenListenOverflow") \
    X(TCPEXT_TCP_FAST_OPEN_COOKIE_REQD, "TcpExt", "TCPFastOpenCookieReqd") \
    X(TCPEXT_TCP_FAST_OPEN_BLACKHOLE, "TcpExt", "TCPFastOpenBlackhole") \
    X(TCPEXT_TCP_FAST_OPEN_PASSIVE_ALT_KEY, "TcpExt", "TCPFastOpenPassiveAltKey") \
    X(TCPEXT_OUT_OF_WINDOW_ICMPS, "TcpExt", "OutOfWindowIcmps") \
    X(TCPEXT_TCP_MTUP_FAIL, "TcpExt", "TCPMTUPFail")         \
    X(TCPEXT_TCP_MTUP_SUCCESS, "TcpExt", "TCPMTUPSuccess")   \
    X(SYNACK_BAD_DATA_OFFSET, "Synack", "BadDataOffset")     \
    X(SYNACK_TRUNCATED_TCP, "Synack", "TruncatedTcpHeader")  \
    X(SYNACK_BAD_IP_VERSION, "Synack", "BadIpVersion")       \
    X(SYNACK_FRAGMENTS_DROPPED, "Synack", "FragmentsDropped") \
    X(SYNACK_NOT_FOR_US, "Synack", "NotForThisHost")         \
    X(SYNACK_BAD_SEGMENT, "Synack", "InvalidSegment")        \
    X(SYNACK_OUT_OF_WINDOW, "Synack", "OutOfWindow")         \
    X(SYNACK_RST_IGNORED, "Synack", "RstIgnored")            \
    X(SYNACK_PMTU_CACHE_EVICTIONS, "Synack", "PmtuCacheEvictions") \
    X(SYNACK_ORPHAN_OVERFLOW, "Synack", "OrphanOverflow")

typedef enum sk_counter_id {
#define SK_COUNTER_ENUM(id, group, name) SK_C_##id,
    SK_COUNTER_LIST(SK_COUNTER_ENUM)
#undef SK_COUNTER_ENUM
    SK_C__COUNT
} sk_counter_id;

const char *sk_counter_group(sk_counter_id id);
const char *sk_counter_short_name(sk_counter_id id);

#endif
