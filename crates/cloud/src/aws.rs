//! AWS: EC2 Describe* and ELBv2, signed with SigV4.
